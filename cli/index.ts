import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { AuditEntry } from '../lib/admin/audit.js';
import { describeChange, describeTarget } from '../lib/admin/auditChange.js';
import { bulkInviteTemplateCsv } from '../lib/admin/bulkInviteCsv.js';
import { SIGN_IN_OUTCOMES } from '../lib/signin/outcomes.js';
import type { DomainView } from '../lib/admin/domains.js';
import type { Guest as GuestView } from '../lib/guests/guests.js';
import type { TenantSettings } from '../lib/tenants/policies.js';
import type { SignInLogRecord } from '../lib/signin/signInLogs.js';
import type { SignInSummary } from '../lib/admin/signInSummary.js';
import { EVENT_TYPES } from '../lib/events/eventTypes.js';
import type { WebhookView } from '../lib/events/webhooks.js';
import { bulkInvite } from './bulkInvite.js';
import { ApiError, ManagementClient, tenantPath, UsageError } from './client.js';
import { csv, details, plural, print, table, type Output } from './format.js';
import { featuresOf, ONE_TIME_PASSCODE, organizationDefault, setOneTimePasscode, type Policy } from './otp.js';

/*
 * guestpass: the operator CLI, a client of the management API over HTTP. Base URL and
 * credential from --url/--key or GUESTPASS_URL/GUESTPASS_KEY; the key is sent in the
 * x-functions-key header and never printed. Every command takes --json; failures print one
 * line to stderr and exit with status 1.
 */

// The answers' shapes, from lib/ (types only: nothing of the server is bundled into the CLI).
type Tenant = TenantSettings;
type Guest = GuestView;
type SignInLog = SignInLogRecord;
type Domain = DomainView;

const program = new Command();
program
  .name('guestpass')
  .description('Operate guestpass tenants, guests and policies through the management API.')
  .addOption(new Option('--url <url>', 'base URL of the function app, e.g. https://func-guestpass.azurewebsites.net').env('GUESTPASS_URL'))
  .addOption(new Option('--key <key>', 'operator credential or tenant admin key (prefer GUESTPASS_KEY: a key on the command line lands in shell history)').env('GUESTPASS_KEY'))
  .option('--json', 'print JSON for scripts instead of tables')
  .showHelpAfterError()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

function client(): ManagementClient {
  const { url, key } = program.opts<{ url?: string; key?: string }>();
  if (!url) throw new UsageError('No base URL: pass --url or set GUESTPASS_URL (npm start prints it, e.g. http://localhost:7071).');
  if (!key) throw new UsageError('No credential: set GUESTPASS_KEY (or pass --key) to the operator credential or a tenant admin key.');
  return new ManagementClient(url, key);
}

function output(): Output {
  return { json: Boolean(program.opts().json), write: (text) => process.stdout.write(text) };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** --tenant, GUESTPASS_TENANT, or a tenant admin key's own tenant. */
async function tenantOf(api: ManagementClient, given: string | undefined): Promise<string> {
  if (given) return given;
  const me = await api.get<{ kind: string; tenantId?: string }>('/me');
  if (me.tenantId) return me.tenantId;
  throw new UsageError('Name the tenant with --tenant <id or verified domain> (or GUESTPASS_TENANT).');
}

const tenantOption = () => new Option('-t, --tenant <tenant>', 'tenant id or verified domain').env('GUESTPASS_TENANT');

function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((item) => item.trim()).filter(Boolean)];
}

function daysOrOff(value: string): number | null {
  if (value === 'off') return null;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1) throw new UsageError(`"${value}" is not a number of days (or "off").`);
  return days;
}

function sinceOption(value: string): string {
  // 24h, 7d, 30m or an ISO date.
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(relative[1]) * unit).toISOString();
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new UsageError(`--since "${value}" is neither a date (2026-11-30T00:00:00Z) nor a duration (30m, 24h, 7d).`);
  return new Date(at).toISOString();
}

/** A file the user named that could not be read or written, in one line naming it (not Node's ENOENT text). */
function fileProblem(error: NodeJS.ErrnoException): string {
  const why: Record<string, string> = {
    ENOENT: 'there is no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a folder',
    ENOTDIR: 'a part of the path is not a folder',
    EROFS: 'the file system is read-only',
    ENOSPC: 'the disk is full',
  };
  return `${error.syscall === 'open' || error.syscall === 'read' ? 'Cannot use' : 'Cannot access'} ${error.path}: ${why[error.code ?? ''] ?? error.code ?? error.message}.`;
}

/** Runs a command's action, turning failures into one line on stderr and exit status 1. */
function run<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof ApiError) log(`error: ${error.code} (${error.status}): ${error.message}`);
      else if (error instanceof UsageError) log(`error: ${error.message}`);
      else if (typeof (error as NodeJS.ErrnoException).path === 'string') log(`error: ${fileProblem(error as NodeJS.ErrnoException)}`);
      else log(`error: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  };
}

/**
 * A command on one tenant: the client and the tenant (--tenant, GUESTPASS_TENANT or the admin
 * key's own) are settled before the action runs with the positional arguments.
 */
function onTenant<O = object>(action: (context: { api: ManagementClient; tenant: string; opts: O }, ...positional: string[]) => Promise<void>) {
  return run(async (...args: unknown[]) => {
    const opts = (args.at(-1) as Command).opts<O & { tenant?: string }>();
    const api = client();
    const tenant = await tenantOf(api, opts.tenant);
    await action({ api, tenant, opts }, ...(args.slice(0, -2) as string[]));
  });
}

function tenantTable(tenants: Tenant[]): string {
  return table(
    ['Id', 'Display name', 'Domains', 'Email OTP', 'Created'],
    tenants.map((t) => [t.id, t.displayName, t.domains.join(', '), t.emailOtp, t.createdAt]),
  );
}

function tenantDetails(t: Tenant): string {
  return details([
    ['Id', t.id],
    ['Display name', t.displayName],
    ['Domains', t.domains.join(', ')],
    ['Allowed origins', t.allowedOrigins.join(', ')],
    ['Redirect URIs', t.redirectUris.join(', ')],
    ['Google federation', t.googleFederation],
    ['Email OTP', t.emailOtp],
    ['Lifecycle', Object.entries(t.lifecycle).map(([k, v]) => `${k}=${v ?? 'off'}`).join(' ')],
    ['Created', t.createdAt],
    ['Updated', t.updatedAt],
  ]);
}

/* tenants */
const tenants = program.command('tenants').description('create, show, change and list tenants');
tenants
  .command('list')
  .description('list every tenant (operator credential only)')
  .action(
    run(async () => {
      const all = await client().all<Tenant>('/tenants');
      print(output(), all, () => tenantTable(all));
    }),
  );
tenants
  .command('create')
  .description('create a tenant (operator credential only); its domains start Pending until verified')
  .requiredOption('--name <displayName>', 'display name, shown in invitation and code mails')
  .option('--domain <domain>', 'a domain of the organisation (repeatable or comma-separated)', list, [])
  .option('--origin <origin>', 'an origin of the SPA allowed to call guestpass (repeatable)', list, [])
  .option('--redirect-uri <url>', 'an invitation redirect URL (repeatable)', list, [])
  .option('--google-federation', 'Gmail addresses sign in with Google')
  .action(
    run(async (o: { name: string; domain: string[]; origin: string[]; redirectUri: string[]; googleFederation?: boolean }) => {
      const created = await client().request<Tenant>('POST', '/tenants', {
        displayName: o.name,
        domains: o.domain,
        allowedOrigins: o.origin,
        redirectUris: o.redirectUri,
        googleFederation: Boolean(o.googleFederation),
      });
      if (output().json || created.domains.length === 0) return print(output(), created, () => tenantDetails(created));
      // Its domains start Pending: print the TXT record each asks for, as domains add does.
      const { value } = await client().get<{ value: Domain[] }>(tenantPath(created.id, '/domains'));
      const pending = value.filter((d) => d.state === 'Pending');
      const txt = pending
        .map((d) => `${d.name} is pending. Publish this DNS TXT record, then run: guestpass domains verify ${d.name} --tenant ${created.id}\n  name:  ${d.txtRecord.name}\n  value: ${d.txtRecord.value}\n`)
        .join('');
      output().write(`${tenantDetails(created)}${txt}`);
    }),
  );
tenants
  .command('show')
  .description('show a tenant')
  .argument('[tenant]', 'tenant id or verified domain')
  .action(
    run(async (given?: string) => {
      const api = client();
      const tenant = await api.get<Tenant>(tenantPath(await tenantOf(api, given ?? process.env.GUESTPASS_TENANT)));
      print(output(), tenant, () => tenantDetails(tenant));
    }),
  );
tenants
  .command('update')
  .description("change a tenant's settings")
  .argument('[tenant]', 'tenant id or verified domain')
  .option('--name <displayName>', 'display name')
  .option('--origins <origins>', 'allowed origins, comma-separated (replaces the list)', list)
  .option('--redirect-uris <urls>', 'redirect URIs, comma-separated (replaces the list)', list)
  .option('--google-federation <on|off>', 'Google federation')
  .option('--pending-invitation-days <days|off>', 'lifecycle: remove invitations pending this long', daysOrOff)
  .option('--inactive-disable-days <days|off>', 'lifecycle: disable guests without a sign-in this long', daysOrOff)
  .option('--inactive-delete-after-days <days|off>', 'lifecycle: delete disabled guests after this long', daysOrOff)
  .action(
    run(async (given: string | undefined, o: Record<string, unknown>) => {
      const api = client();
      const body: Record<string, unknown> = {};
      if (o.name !== undefined) body.displayName = o.name;
      if (o.origins !== undefined) body.allowedOrigins = o.origins;
      if (o.redirectUris !== undefined) body.redirectUris = o.redirectUris;
      if (o.googleFederation !== undefined) body.googleFederation = o.googleFederation === 'on';
      const lifecycle: Record<string, unknown> = {};
      for (const key of ['pendingInvitationDays', 'inactiveDisableDays', 'inactiveDeleteAfterDays']) if (o[key] !== undefined) lifecycle[key] = o[key];
      if (Object.keys(lifecycle).length > 0) body.lifecycle = lifecycle;
      if (Object.keys(body).length === 0) throw new UsageError('Nothing to change: name at least one option (see guestpass tenants update --help).');
      const tenant = await api.request<Tenant>('PATCH', tenantPath(await tenantOf(api, given ?? process.env.GUESTPASS_TENANT)), body);
      print(output(), tenant, () => tenantDetails(tenant));
    }),
  );

/* domains */
const domains = program.command('domains').description('add, verify, list and remove verified domains (DNS TXT)');
function domainTable(items: Domain[]): string {
  return table(['Domain', 'State', 'TXT record name', 'TXT record value', 'Verified'], items.map((d) => [d.name, d.state, d.txtRecord.name, d.txtRecord.value, d.verifiedAt]));
}
domains
  .command('list')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }) => {
      const { value } = await api.get<{ value: Domain[] }>(tenantPath(tenant, '/domains'));
      print(output(), value, () => domainTable(value));
    }),
  );
domains
  .command('add')
  .argument('<domain>')
  .addOption(tenantOption())
  .description('add a domain; publish the TXT record it prints, then run domains verify')
  .action(
    onTenant(async ({ api, tenant }, name) => {
      const domain = await api.request<Domain>('POST', tenantPath(tenant, '/domains'), { name });
      print(output(), domain, () =>
        domain.state === 'Verified'
          ? `${domain.name} is verified.\n`
          : `${domain.name} is pending. Publish this DNS TXT record, then run: guestpass domains verify ${domain.name}\n  name:  ${domain.txtRecord.name}\n  value: ${domain.txtRecord.value}\n`,
      );
    }),
  );
domains
  .command('verify')
  .argument('<domain>')
  .addOption(tenantOption())
  .description('look up the TXT record and mark the domain verified')
  .action(
    onTenant(async ({ api, tenant }, name) => {
      const domain = await api.request<Domain>('POST', tenantPath(tenant, `/domains/${encodeURIComponent(name)}/verify`));
      print(output(), domain, () => `${domain.name} is verified (${domain.verifiedAt}); it now works as the tenant in URLs.\n`);
    }),
  );
domains
  .command('remove')
  .argument('<domain>')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }, name) => {
      await api.request('DELETE', tenantPath(tenant, `/domains/${encodeURIComponent(name)}`));
      print(output(), { removed: name }, () => `Removed ${name}.\n`);
    }),
  );

/* invite */
program
  .command('invite')
  .description("invite one guest, or many from Entra's bulk-invite CSV template (--csv)")
  .argument('[email]', 'the address to invite')
  .addOption(tenantOption())
  .option('--redirect <url>', "where the invitation leads (one of the tenant's redirect URIs; default: its first)")
  .option('--name <displayName>', 'display name of the guest')
  .option('--message <text>', 'a customized message in the invitation mail')
  .option('--no-mail', 'invite without sending the invitation mail')
  .option('--csv <file>', "Entra's bulk-invite template (version:v1.0, [inviteeEmail] and [inviteRedirectURL] columns)")
  .option('--results <file>', 'where the per-row results CSV goes (default: <csv>.results.csv); opened before anything is sent')
  .option('--resend', 'with --csv: send the invitation mail again to rows whose address is already a guest (otherwise they are skipped)')
  .option('--concurrency <n>', 'invitations in flight at once', (v) => Number(v), 8)
  .option('--template <file>', 'write an empty template to this file and stop')
  .action(
    run(async (email: string | undefined, o: { tenant?: string; redirect?: string; name?: string; message?: string; mail: boolean; csv?: string; results?: string; resend?: boolean; concurrency: number; template?: string }) => {
      if (o.template) {
        writeFileSync(o.template, bulkInviteTemplateCsv());
        log(`Wrote an empty bulk-invite template to ${o.template}.`);
        return;
      }
      const api = client();
      const tenant = await tenantOf(api, o.tenant);
      if (o.csv) {
        if (email) throw new UsageError('Give either an address or --csv, not both.');
        if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 64) throw new UsageError('--concurrency must be 1 to 64.');
        const summary = await bulkInvite(api, {
          tenant,
          file: o.csv,
          resultsFile: o.results ?? `${o.csv.replace(/\.csv$/i, '')}.results.csv`,
          concurrency: o.concurrency,
          resend: Boolean(o.resend),
          progress: output().json ? 'none' : process.stderr.isTTY ? 'bar' : 'lines',
          log,
        });
        print(output(), summary, () =>
          `Succeeded ${summary.succeeded}, failed ${summary.failed}, skipped ${summary.skipped}, total ${plural(summary.total, 'row')} in ${summary.seconds.toFixed(1)} s. Results: ${summary.resultsFile}\n`,
        );
        if (summary.failed > 0) process.exitCode = 1;
        return;
      }
      if (!email) throw new UsageError('Give the address to invite, or --csv <file>.');
      const redirect = o.redirect ?? (await api.get<Tenant>(tenantPath(tenant))).redirectUris[0];
      if (!redirect) throw new UsageError('The tenant has no redirect URIs: pass --redirect or add one with guestpass tenants update --redirect-uris.');
      const invitation = await api.request<{ invitedUser: { id: string }; status: string; inviteRedeemUrl: string }>('POST', tenantPath(tenant, '/invitations'), {
        invitedUserEmailAddress: email,
        inviteRedirectUrl: redirect,
        sendInvitationMessage: o.mail,
        ...(o.name ? { invitedUserDisplayName: o.name } : {}),
        ...(o.message ? { invitedUserMessageInfo: { customizedMessageBody: o.message } } : {}),
      });
      print(output(), invitation, () =>
        details([
          ['Invited user id', invitation.invitedUser.id],
          ['Status', invitation.status],
          ['Redeem URL', invitation.inviteRedeemUrl],
          ['Mail sent', o.mail],
        ]),
      );
    }),
  );

/* users */
const users = program.command('users').description('list, show, block, unblock, delete guests and reset their redemption');
const sourceLabel = (guest: Guest) => guest.source ?? (guest.state === 'PendingAcceptance' ? 'Invited user' : '-');
const USER_COLUMNS = ['Email', 'Display name', 'Source', 'State', 'Sign-in', 'Invited', 'Last sign-in', 'Id'];
// Entra's "Block sign-in": accountEnabled false.
const signInLabel = (g: Guest) => (g.accountEnabled === false ? 'Blocked' : 'Allowed');
const userRow = (g: Guest) => [g.email, g.displayName, sourceLabel(g), g.state, signInLabel(g), g.invitedAt, g.lastSignInAt, g.id];

/** A guest named by its id or by its address (one exact-address lookup). */
async function findGuest(api: ManagementClient, tenant: string, idOrEmail: string): Promise<Guest> {
  if (!idOrEmail.includes('@')) return api.get<Guest>(tenantPath(tenant, `/users/${encodeURIComponent(idOrEmail)}`));
  const address = idOrEmail.trim().toLowerCase();
  const page = await api.get<{ value: Guest[] }>(tenantPath(tenant, `/users?search=${encodeURIComponent(address)}&$top=5`));
  const guest = page.value.find((g) => g.email.toLowerCase() === address);
  if (!guest) throw new UsageError(`No guest of this tenant has the address ${idOrEmail}.`);
  return guest;
}
users
  .command('list')
  .description('every guest of the tenant (pages through all), with its Source and State')
  .addOption(tenantOption())
  .addOption(new Option('--source <source>', 'only this sign-in source').choices(['OTP', 'AzureAD', 'MSA', 'Google']))
  .addOption(new Option('--state <state>', 'only this state').choices(['PendingAcceptance', 'Accepted', 'Disabled']))
  .option('--search <text>', 'an address prefix or an exact address')
  .option('--csv <file>', 'export to a CSV file ("-" for stdout)')
  .action(
    onTenant<{ source?: string; state?: string; search?: string; csv?: string }>(async ({ api, tenant, opts: o }) => {
      const query = new URLSearchParams();
      if (o.source) query.set('source', o.source);
      if (o.state) query.set('state', o.state);
      if (o.search) query.set('search', o.search);
      const all = await api.all<Guest>(tenantPath(tenant, `/users${query.size ? `?${query}` : ''}`));
      if (o.csv) {
        const text = csv(
          ['id', 'email', 'displayName', 'source', 'state', 'accountEnabled', 'invitedAt', 'redeemedAt', 'lastSignInAt'],
          all.map((g) => [g.id, g.email, g.displayName, g.source, g.state, g.accountEnabled, g.invitedAt, g.redeemedAt, g.lastSignInAt]),
        );
        if (o.csv === '-') process.stdout.write(text);
        else {
          writeFileSync(o.csv, text);
          log(`Wrote ${plural(all.length, 'guest')} to ${o.csv}.`);
        }
        return;
      }
      print(output(), all, () => `${table(USER_COLUMNS, all.map(userRow))}${plural(all.length, 'guest')}\n`);
    }),
  );
users
  .command('show')
  .argument('<id>')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }, id) => {
      const guest = await api.get<Guest>(tenantPath(tenant, `/users/${encodeURIComponent(id)}`));
      print(output(), guest, () => details(USER_COLUMNS.map((column, i) => [column, userRow(guest)[i]] as [string, unknown]).concat([['Redeemed', guest.redeemedAt]])));
    }),
  );
for (const [name, accountEnabled] of [['block', false], ['unblock', true]] as const) {
  users
    .command(name)
    .argument('<guest>', 'the guest: its address or its id')
    .addOption(tenantOption())
    .description(
      accountEnabled
        ? 'let a blocked guest sign in again (accountEnabled true)'
        : "block the guest's sign-in (Entra's Block sign-in, accountEnabled false): its sessions end at once, it keeps its id and history",
    )
    .action(
      onTenant(async ({ api, tenant }, ref) => {
        const guest = await findGuest(api, tenant, ref!);
        const changed = await api.request<Guest>('PATCH', tenantPath(tenant, `/users/${encodeURIComponent(guest.id)}`), { accountEnabled });
        const already = guest.accountEnabled === accountEnabled;
        print(output(), changed, () =>
          already
            ? `${changed.email} was already ${accountEnabled ? 'allowed to sign in' : 'blocked'}.\n`
            : `${changed.email}: sign-in ${accountEnabled ? 'allowed again' : 'blocked; its sessions ended'}.\n`,
        );
      }),
    );
}
users
  .command('delete')
  .argument('<id>')
  .addOption(tenantOption())
  .description('delete a guest; its sessions and codes end at once')
  .action(
    onTenant(async ({ api, tenant }, id) => {
      await api.request('DELETE', tenantPath(tenant, `/users/${encodeURIComponent(id)}`));
      print(output(), { deleted: id }, () => `Deleted guest ${id}.\n`);
    }),
  );
users
  .command('reset-redemption')
  .argument('<id>')
  .addOption(tenantOption())
  .option('--redirect <url>', "the invitation's redirect URL (default: the tenant's first)")
  .option('--mail', 'send the invitation mail again')
  .description('make the guest redeem again (Graph resetRedemption): the sign-in method is resolved anew, sessions end')
  .action(
    onTenant<{ redirect?: string; mail?: boolean }>(async ({ api, tenant, opts: o }, id) => {
      const guest = await api.get<Guest>(tenantPath(tenant, `/users/${encodeURIComponent(id)}`));
      const redirect = o.redirect ?? (await api.get<Tenant>(tenantPath(tenant))).redirectUris[0];
      if (!redirect) throw new UsageError('The tenant has no redirect URIs: pass --redirect.');
      const invitation = await api.request<{ status: string }>('POST', tenantPath(tenant, '/invitations'), {
        invitedUserEmailAddress: guest.email,
        inviteRedirectUrl: redirect,
        sendInvitationMessage: Boolean(o.mail),
        resetRedemption: true,
      });
      print(output(), invitation, () => `Guest ${id} (${guest.email}) must redeem again: ${invitation.status}.\n`);
    }),
  );

/* otp */
const roles = program.command('roles').description("a guest's app roles in the tenant's applications (Graph's appRoleAssignments)");
interface AppRoleAssignment { id: string; appRoleId: string; resourceId: string; resourceDisplayName: string; principalDisplayName: string; createdDateTime: string }
interface ApplicationRoles { clientId: string; displayName: string; appRoles: { id: string; value: string; displayName: string; isEnabled: boolean }[] }
const ASSIGNMENT_COLUMNS = ['Role', 'Application', 'Assigned', 'Assignment id'];
roles
  .command('list')
  .argument('<guest>', 'the guest: its address or its id')
  .addOption(tenantOption())
  .description('the app roles the guest holds, with the role values tokens carry')
  .action(
    onTenant(async ({ api, tenant }, ref) => {
      const guest = await findGuest(api, tenant, ref!);
      const { value } = await api.get<{ value: AppRoleAssignment[] }>(tenantPath(tenant, `/users/${encodeURIComponent(guest.id)}/appRoleAssignments`));
      const apps = new Map<string, ApplicationRoles>();
      for (const clientId of new Set(value.map((a) => a.resourceId))) {
        apps.set(clientId, await api.get<ApplicationRoles>(tenantPath(tenant, `/applications/${encodeURIComponent(clientId)}`)).catch(() => ({ clientId, displayName: '-', appRoles: [] })));
      }
      const roleValue = (a: AppRoleAssignment) => apps.get(a.resourceId)?.appRoles.find((r) => r.id === a.appRoleId)?.value ?? `(deleted role ${a.appRoleId})`;
      print(output(), value, () => `${table(ASSIGNMENT_COLUMNS, value.map((a) => [roleValue(a), a.resourceDisplayName, a.createdDateTime, a.id]))}${plural(value.length, 'assignment')}\n`);
    }),
  );
roles
  .command('assign')
  .argument('<guest>', 'the guest: its address or its id')
  .addOption(tenantOption())
  .requiredOption('--app <clientId>', "the application's client id")
  .requiredOption('--role <value|id>', "the role: its value (as tokens carry it) or its id")
  .description("give the guest one of an application's app roles; its tokens for that application carry the role from the next sign-in")
  .action(
    onTenant<{ app: string; role: string }>(async ({ api, tenant, opts: o }, ref) => {
      const guest = await findGuest(api, tenant, ref!);
      const app = await api.get<ApplicationRoles>(tenantPath(tenant, `/applications/${encodeURIComponent(o.app)}`));
      const role = app.appRoles.find((r) => r.value === o.role || r.id === o.role.toLowerCase());
      if (!role) throw new UsageError(`${app.displayName} has no app role ${o.role}; its roles: ${app.appRoles.map((r) => r.value).join(', ') || 'none'}.`);
      const assignment = await api.request<AppRoleAssignment>('POST', tenantPath(tenant, `/users/${encodeURIComponent(guest.id)}/appRoleAssignments`), { appRoleId: role.id, resourceId: app.clientId });
      print(output(), assignment, () => `${guest.email} holds ${role.value} in ${app.displayName} (assignment ${assignment.id}).\n`);
    }),
  );
roles
  .command('remove')
  .argument('<guest>', 'the guest: its address or its id')
  .argument('<assignmentId>', 'the assignment, as roles list shows it')
  .addOption(tenantOption())
  .description('take an app role away from the guest; tokens issued from now on leave it out')
  .action(
    onTenant(async ({ api, tenant }, ref, assignmentId) => {
      const guest = await findGuest(api, tenant, ref!);
      await api.request('DELETE', tenantPath(tenant, `/users/${encodeURIComponent(guest.id)}/appRoleAssignments/${encodeURIComponent(assignmentId!)}`));
      print(output(), { removed: assignmentId }, () => `Removed assignment ${assignmentId} from ${guest.email}.\n`);
    }),
  );

const otp = program.command('otp').description('the email one-time passcode switch (organisation-default B2BManagementPolicy)');
otp
  .command('status')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }) => {
      const policy = await organizationDefault(api, tenant);
      const state = policy ? (featuresOf(policy).includes(ONE_TIME_PASSCODE) ? 'enabled' : 'disabled') : 'default';
      const result = { emailOtp: state, policyId: policy?.id ?? null, definition: policy?.definition[0] ?? null };
      print(output(), result, () =>
        details([
          ['Email OTP', state === 'default' ? 'default (no organisation-default policy: OTP_DEFAULT_ENABLED decides)' : state],
          ['Policy', policy?.id],
          ['Definition', policy?.definition[0]],
        ]),
      );
    }),
  );
for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
  otp
    .command(name)
    .addOption(tenantOption())
    .description(`${enabled ? 'add' : 'remove'} OneTimePasscode in the organisation-default B2BManagementPolicy (created if missing; other settings kept)`)
    .action(
      onTenant(async ({ api, tenant }) => {
        const { policy, action } = await setOneTimePasscode(api, tenant, enabled);
        print(output(), { emailOtp: enabled ? 'enabled' : 'disabled', action, policy }, () =>
          `Email one-time passcodes ${enabled ? 'enabled' : 'disabled'} (policy ${policy.id} ${action}).\n`,
        );
      }),
    );
}

/* policies */
const policies = program.command('policies').description('B2BManagementPolicy definitions, as Get/New/Set/Remove-AzureADPolicy');
const policyTable = (items: Policy[]) => table(['Id', 'Type', 'Display name', 'Org default', 'Definition'], items.map((p) => [p.id, p.type, p.displayName, String(p.isOrganizationDefault), p.definition[0]]));
function definitionArg(value: string): string[] {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError('--definition must be JSON (or @file holding JSON), e.g. {"B2BManagementPolicy":{"PreviewPolicy":{"Features":["OneTimePasscode"]}}}');
  }
  return [text.trim()];
}
policies
  .command('list')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }) => {
      const { value } = await api.get<{ value: Policy[] }>(tenantPath(tenant, '/policies'));
      print(output(), value, () => policyTable(value));
    }),
  );
policies
  .command('show')
  .argument('<id>')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }, id) => {
      const policy = await api.get<Policy>(tenantPath(tenant, `/policies/${encodeURIComponent(id)}`));
      print(output(), policy, () => policyTable([policy]));
    }),
  );
policies
  .command('create')
  .addOption(tenantOption())
  .requiredOption('--definition <json|@file>', 'the definition JSON')
  .option('--display-name <name>', 'display name', 'B2BManagementPolicy')
  .option('--org-default', 'make it the organisation default')
  .action(
    onTenant<{ definition: string; displayName: string; orgDefault?: boolean }>(async ({ api, tenant, opts: o }) => {
      const policy = await api.request<Policy>('POST', tenantPath(tenant, '/policies'), {
        type: 'B2BManagementPolicy',
        displayName: o.displayName,
        isOrganizationDefault: Boolean(o.orgDefault),
        definition: definitionArg(o.definition),
      });
      print(output(), policy, () => policyTable([policy]));
    }),
  );
policies
  .command('update')
  .argument('<id>')
  .addOption(tenantOption())
  .option('--definition <json|@file>', 'the new definition JSON')
  .option('--display-name <name>', 'display name')
  .action(
    onTenant<{ definition?: string; displayName?: string }>(async ({ api, tenant, opts: o }, id) => {
      const body: Record<string, unknown> = {};
      if (o.definition) body.definition = definitionArg(o.definition);
      if (o.displayName) body.displayName = o.displayName;
      if (Object.keys(body).length === 0) throw new UsageError('Nothing to change: pass --definition or --display-name.');
      const policy = await api.request<Policy>('PATCH', tenantPath(tenant, `/policies/${encodeURIComponent(id)}`), body);
      print(output(), policy, () => policyTable([policy]));
    }),
  );
policies
  .command('delete')
  .argument('<id>')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }, id) => {
      await api.request('DELETE', tenantPath(tenant, `/policies/${encodeURIComponent(id)}`));
      print(output(), { deleted: id }, () => `Deleted policy ${id}.\n`);
    }),
  );

/* sign-in logs */
const LOG_COLUMNS = ['Time', 'Guest', 'Event', 'Outcome', 'Client IP', 'Mail'];
/** A code mail's fate after its send-code: queued, retrying, sent, refused, dropped, then delivered, bounced or blocked. */
const mailFate = (e: SignInLog) => (e.delivery ? `${e.delivery.status}${e.delivery.reason ? ` (${e.delivery.reason})` : ''}` : '');
// The address; an entry whose guest was deleted shows its id, one from an address that is no guest shows "-".
const logRow = (e: SignInLog) => [e.createdDateTime, e.userPrincipalName ?? e.userId, e.event, e.outcome, e.clientIp, mailFate(e)];
program
  .command('sign-in-logs')
  .description("the tenant's sign-in log, oldest first")
  .addOption(tenantOption())
  .option('--user <id>', 'one guest')
  .option('--since <when>', 'from this time: an ISO date or 30m, 24h, 7d')
  .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(SIGN_IN_OUTCOMES))
  .option('--summary', 'counts per hour instead of entries: codes sent, sign-ins, failures and refusals per reason')
  .option('--hours <n>', 'with --summary: how many hours back (1 to 744)', (v) => Number(v), 24)
  .option('--follow', 'keep printing new entries (Ctrl-C stops)')
  .option('--interval <seconds>', 'how often --follow asks', (v) => Number(v), 5)
  .option('--csv <file>', 'export to a CSV file ("-" for stdout)')
  .action(
    onTenant<{ user?: string; since?: string; outcome?: string; follow?: boolean; interval: number; csv?: string; summary?: boolean; hours: number }>(async ({ api, tenant, opts: o }) => {
      if (o.summary) {
        if (!Number.isInteger(o.hours) || o.hours < 1 || o.hours > 744) throw new UsageError('--hours must be 1 to 744.');
        const { value } = await api.get<SignInSummary>(tenantPath(tenant, `/sign-in-logs/summary?hours=${o.hours}`));
        const refused = (h: SignInSummary['value'][number]) => Object.entries(h.refusals).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`).join(', ');
        const busy = value.filter((h) => h.codesSent + h.signIns + h.failures + h.stepUps + h.mailsFailed + Object.values(h.refusals).reduce((a, b) => a + b, 0) > 0);
        const sum = (pick: (h: SignInSummary['value'][number]) => number) => value.reduce((total, h) => total + pick(h), 0);
        const totals = Object.fromEntries(Object.keys(value[0]?.refusals ?? {}).map((reason) => [reason, sum((h) => h.refusals[reason as keyof typeof h.refusals])]));
        print(output(), value, () =>
          `${table(['Hour (UTC)', 'Codes sent', 'Sign-ins', 'Failures', 'Step-ups', 'Mails failed', 'Refused'], busy.map((h) => [h.hour, h.codesSent, h.signIns, h.failures, h.stepUps, h.mailsFailed, refused(h)]))}` +
            `Last ${plural(o.hours, 'hour')}: ${plural(sum((h) => h.codesSent), 'code')} sent, ${plural(sum((h) => h.signIns), 'sign-in')}, ${plural(sum((h) => h.failures), 'failure')}, ${plural(sum((h) => h.stepUps), 'step-up')}, ${plural(sum((h) => h.mailsFailed), 'mail')} failed; refused: ${
              Object.entries(totals).map(([reason, n]) => `${reason} ${n}`).join(', ')
            }\n`,
        );
        return;
      }
      const fetchSince = async (since: string | undefined) => {
        const query = new URLSearchParams({ $top: '200' });
        if (o.user) query.set('userId', o.user);
        if (o.outcome) query.set('outcome', o.outcome);
        if (since) query.set('since', since);
        const entries = await api.all<SignInLog>(tenantPath(tenant, `/sign-in-logs?${query}`));
        return entries.sort((a, b) => a.createdDateTime.localeCompare(b.createdDateTime) || a.id.localeCompare(b.id));
      };
      const first = await fetchSince(o.since ? sinceOption(o.since) : undefined);
      if (o.csv) {
        const text = csv(['time', 'userPrincipalName', 'userId', 'event', 'outcome', 'clientIp', 'mail'], first.map((e) => [e.createdDateTime, e.userPrincipalName, e.userId, e.event, e.outcome, e.clientIp, mailFate(e)]));
        if (o.csv === '-') process.stdout.write(text);
        else writeFileSync(o.csv, text);
        return;
      }
      const out = output();
      const emit = (entries: SignInLog[], header: boolean) => {
        if (out.json) for (const entry of entries) out.write(`${JSON.stringify(entry)}\n`);
        else if (header) out.write(table(LOG_COLUMNS, entries.map(logRow)));
        else for (const entry of entries) out.write(`${logRow(entry).map((c) => c ?? '-').join('  ')}\n`);
      };
      if (!o.follow) {
        print(out, first, () => table(LOG_COLUMNS, first.map(logRow)));
        return;
      }
      emit(first, true);
      const seen = new Set(first.map((e) => e.id));
      let last = first.at(-1)?.createdDateTime ?? new Date().toISOString();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, o.interval * 1000));
        const fresh = (await fetchSince(last)).filter((e) => !seen.has(e.id));
        for (const e of fresh) seen.add(e.id);
        if (fresh.length > 0) last = fresh.at(-1)!.createdDateTime;
        emit(fresh, false);
      }
    }),
  );

/* audit */
program
  .command('audit')
  .description("the tenant's audit log of management changes, newest first")
  .addOption(tenantOption())
  .option('--since <when>', 'from this time: an ISO date or 30m, 24h, 7d')
  .action(
    onTenant<{ since?: string }>(async ({ api, tenant, opts: o }) => {
      const query = new URLSearchParams({ $top: '200' });
      if (o.since) query.set('since', sinceOption(o.since));
      const all = await api.all<AuditEntry>(tenantPath(tenant, `/audit?${query}`));
      print(output(), all, () =>
        table(
          ['Time', 'Actor', 'Action', 'Target', 'Change'],
          all.map((e) => [e.at, `${e.actor.name}${e.actor.keyId ? ` (${e.actor.keyId.slice(0, 8)})` : ''}`, e.action, describeTarget(e), describeChange(e.before, e.after).join('; ')]),
        ),
      );
    }),
  );

/* keys */
const keys = program.command('keys').description('tenant admin keys: each manages one tenant only');
keys
  .command('create')
  .addOption(tenantOption())
  .requiredOption('--name <name>', 'what the key is for; shown in the audit log')
  .action(
    onTenant<{ name: string }>(async ({ api, tenant, opts: o }) => {
      const created = await api.request<{ id: string; name: string; key: string; createdAt: string }>('POST', tenantPath(tenant, '/keys'), { name: o.name });
      print(output(), created, () =>
        `${details([['Id', created.id], ['Name', created.name], ['Key', created.key]])}Store the key now (for example as GUESTPASS_KEY in a secret store): it is never shown again.\n`,
      );
    }),
  );
keys
  .command('list')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }) => {
      const { value } = await api.get<{ value: { id: string; name: string; createdAt: string; createdBy: string; lastUsedAt?: string; revokedAt?: string }[] }>(
        tenantPath(tenant, '/keys'),
      );
      print(output(), value, () => table(['Id', 'Name', 'Created', 'Created by', 'Last used', 'Revoked'], value.map((k) => [k.id, k.name, k.createdAt, k.createdBy, k.lastUsedAt, k.revokedAt])));
    }),
  );
keys
  .command('revoke')
  .argument('<id>')
  .addOption(tenantOption())
  .description('revoke a key; it stops working at once on every instance')
  .action(
    onTenant(async ({ api, tenant }, id) => {
      await api.request('DELETE', tenantPath(tenant, `/keys/${encodeURIComponent(id)}`));
      print(output(), { revoked: id }, () => `Revoked key ${id}.\n`);
    }),
  );

/* webhooks */
const webhooks = program.command('webhooks').description("the tenant's signed webhooks (Standard Webhooks): endpoints, secrets, deliveries");
function eventsOption(value: string): string[] {
  const events = value.split(',').map((e) => e.trim()).filter(Boolean);
  const unknown = events.filter((e) => !(EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length > 0) throw new UsageError(`Unknown event type ${unknown.join(', ')}: one of ${EVENT_TYPES.join(', ')}.`);
  return events;
}
webhooks
  .command('create')
  .addOption(tenantOption())
  .argument('<url>', 'where events are POSTed: https, on a public address')
  .option('--events <types>', `comma-separated event types (default: all): ${EVENT_TYPES.join(', ')}`, eventsOption)
  .option('--description <text>', 'what the endpoint is for')
  .action(
    onTenant<{ events?: string[]; description?: string }>(async ({ api, tenant, opts: o }, url) => {
      const created = await api.request<WebhookView & { secret: string }>('POST', tenantPath(tenant, '/webhooks'), {
        url,
        ...(o.events ? { events: o.events } : {}),
        ...(o.description ? { description: o.description } : {}),
      });
      print(output(), created, () =>
        `${details([['Id', created.id], ['URL', created.url], ['Events', created.events.length ? created.events.join(', ') : 'all'], ['Secret', created.secret]])}Give the secret to the receiver now (it verifies webhook-signature with it): it is never shown again.\n`,
      );
    }),
  );
webhooks
  .command('list')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }) => {
      const { value } = await api.get<{ value: WebhookView[] }>(tenantPath(tenant, '/webhooks'));
      print(output(), value, () =>
        table(
          ['Id', 'URL', 'Events', 'State', 'Last delivery'],
          value.map((w) => {
            const last = w.recentDeliveries?.[0];
            return [w.id, w.url, w.events.length ? w.events.join(',') : 'all', w.enabled ? (w.failingSince ? `failing since ${w.failingSince}` : 'enabled') : `disabled: ${w.disabledReason ?? ''}`, last ? `${last.at} ${last.outcome}${last.status ? ` ${last.status}` : ''}` : undefined];
          }),
        ),
      );
    }),
  );
webhooks
  .command('deliveries')
  .argument('<id>')
  .addOption(tenantOption())
  .description("an endpoint's recent delivery attempts and the receiver's answers")
  .action(
    onTenant(async ({ api, tenant }, id) => {
      const webhook = await api.get<WebhookView>(tenantPath(tenant, `/webhooks/${encodeURIComponent(id)}`));
      const deliveries = webhook.recentDeliveries ?? [];
      print(output(), deliveries, () =>
        table(['Time', 'Event', 'Type', 'Attempt', 'Outcome', 'Status', 'Error', 'Next attempt'], deliveries.map((d) => [d.at, d.eventId, d.eventType, String(d.attempt), d.outcome, d.status === undefined ? undefined : String(d.status), d.error, d.nextAttemptAt])),
      );
    }),
  );
webhooks
  .command('rotate-secret')
  .argument('<id>')
  .addOption(tenantOption())
  .description('a new signing secret; the previous one keeps signing beside it for a day')
  .action(
    onTenant(async ({ api, tenant }, id) => {
      const rotated = await api.request<{ id: string; secret: string; previousSecretValidUntil: string }>('POST', tenantPath(tenant, `/webhooks/${encodeURIComponent(id)}/rotate-secret`));
      print(output(), rotated, () => `${details([['Id', rotated.id], ['Secret', rotated.secret], ['Previous secret signs until', rotated.previousSecretValidUntil]])}`);
    }),
  );
webhooks
  .command('enable')
  .argument('<id>')
  .addOption(tenantOption())
  .description('turn an endpoint disabled for failing back on')
  .action(
    onTenant(async ({ api, tenant }, id) => {
      const changed = await api.request<WebhookView>('PATCH', tenantPath(tenant, `/webhooks/${encodeURIComponent(id)}`), { enabled: true });
      print(output(), changed, () => `Enabled webhook ${changed.id}.\n`);
    }),
  );
webhooks
  .command('delete')
  .argument('<id>')
  .addOption(tenantOption())
  .action(
    onTenant(async ({ api, tenant }, id) => {
      await api.request('DELETE', tenantPath(tenant, `/webhooks/${encodeURIComponent(id)}`));
      print(output(), { deleted: id }, () => `Deleted webhook ${id}.\n`);
    }),
  );

/* lifecycle */
const lifecycle = program.command('lifecycle').description('guest lifecycle: remove stale invitations, disable then delete inactive guests');
for (const [name, method, path, verb] of [
  ['preview', 'GET', '/lifecycle/preview', 'would do'],
  ['run', 'POST', '/lifecycle/run', 'did'],
] as const) {
  lifecycle
    .command(name)
    .addOption(tenantOption())
    .description(name === 'preview' ? 'what the next run would do' : 'run it now (the cleanup timer also runs it every 15 minutes)')
    .action(
      onTenant(async ({ api, tenant }) => {
        const { value } = await api.request<{ value: { guestId: string; email: string; action: string; reason: string }[] }>(method, tenantPath(tenant, path));
        print(output(), value, () =>
          value.length === 0
            ? `The lifecycle ${verb} nothing (settings: guestpass tenants show).\n`
            : table(['Email', 'Action', 'Reason', 'Guest id'], value.map((a) => [a.email, a.action, a.reason, a.guestId])),
        );
      }),
    );
}

program.parseAsync(process.argv).catch((error: Error) => {
  log(`error: ${error.message}`);
  process.exitCode = 1;
});
