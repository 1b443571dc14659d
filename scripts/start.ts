import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateCodePepper, generateSigningKey, generateSigningKeys } from '../lib/signin/keys.js';
import { readLocalSettings } from '../lib/config.js';
import { azuriteAnswers, portAnswers, startAzurite, startAzuriteQueue, type RunningAzurite } from './azurite.js';
import { DEMO_DOMAIN, DEMO_GUEST } from '../web/src/demoTenant.js';
import { listenLocalHost, startAppQueues, startTimers } from './localHost.js';

const SETTINGS = 'local.settings.json';
const SAMPLE = 'local.settings.sample.json';

/** A fresh clone has no local.settings.json: make one from the sample, with its own secrets. */
function ensureLocalSettings(): void {
  if (existsSync(SETTINGS)) {
    addMissingRsaKey();
    addMissingQueueSettings();
    return;
  }
  copyFileSync(SAMPLE, SETTINGS);
  const settings = JSON.parse(readFileSync(SETTINGS, 'utf8')) as { Values: Record<string, string> };
  settings.Values.CODE_PEPPER = generateCodePepper();
  settings.Values.SIGNING_KEYS = generateSigningKeys();
  settings.Values.LOCAL_FUNCTION_KEY = generateCodePepper();
  writeFileSync(SETTINGS, `${JSON.stringify(settings, null, 2)}\n`);
  console.log(`Created ${SETTINGS} from ${SAMPLE} with fresh local secrets (git ignores it).`);
}

/**
 * A local.settings.json from before mail left through a queue lacks the queue names the
 * queue triggers resolve (%MAIL_QUEUE_NAME%, %ACS_EVENTS_QUEUE_NAME%, %WEBHOOK_QUEUE_NAME%): they are added from the sample.
 */
function addMissingQueueSettings(): void {
  const settings = JSON.parse(readFileSync(SETTINGS, 'utf8')) as { Values?: Record<string, string> };
  const sample = (JSON.parse(readFileSync(SAMPLE, 'utf8')) as { Values: Record<string, string> }).Values;
  const missing = ['AzureWebJobsStorage', 'MAIL_QUEUE_NAME', 'ACS_EVENTS_QUEUE_NAME', 'WEBHOOK_QUEUE_NAME'].filter((name) => !settings.Values?.[name] && sample[name]);
  if (missing.length === 0) return;
  settings.Values = { ...settings.Values, ...Object.fromEntries(missing.map((name) => [name, sample[name]!])) };
  writeFileSync(SETTINGS, `${JSON.stringify(settings, null, 2)}\n`);
  console.log(`Added ${missing.join(', ')} (mail leaves through Azurite's Queue service) to ${SETTINGS}.`);
}

/** A local.settings.json from before RS256 ID tokens holds one EC key: it gains an RSA key beside it. */
function addMissingRsaKey(): void {
  const settings = JSON.parse(readFileSync(SETTINGS, 'utf8')) as { Values?: Record<string, string> };
  const current = settings.Values?.SIGNING_KEYS;
  if (!current) return;
  let keys: { kty?: string }[];
  try {
    keys = JSON.parse(current) as { kty?: string }[];
  } catch {
    return; // the app names the broken setting when it starts
  }
  if (!Array.isArray(keys) || keys.some((key) => key?.kty === 'RSA')) return;
  settings.Values!.SIGNING_KEYS = JSON.stringify([...keys, generateSigningKey('RSA')]);
  writeFileSync(SETTINGS, `${JSON.stringify(settings, null, 2)}\n`);
  console.log(`Added an RSA signing key (RS256 ID tokens) to SIGNING_KEYS in ${SETTINGS}.`);
}

/** The local Azurite port a connection string names for a service (UseDevelopmentStorage=true: Azurite's defaults). */
function azuritePort(connectionString: string, service: 'Table' | 'Queue' = 'Table'): number | undefined {
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return service === 'Table' ? 10002 : 10001;
  const match = new RegExp(`${service}Endpoint=https?://(?:127\\.0\\.0\\.1|localhost):(\\d+)`, 'i').exec(connectionString);
  return match ? Number(match[1]) : undefined;
}

async function ensureDemoTenant(base: string, key: string): Promise<{ id: string }> {
  const headers = { 'x-functions-key': key, 'content-type': 'application/json' };
  const existing = await fetch(`${base}/api/manage/tenants/${DEMO_DOMAIN}`, { headers });
  if (existing.ok) {
    const tenant = (await existing.json()) as { id: string; allowedOrigins: string[]; redirectUris: string[] };
    // Kept in .azurite/ from a run on another PORT: let this run's demo page in too.
    if (!tenant.redirectUris.includes(`${base}/`)) {
      const changed = await fetch(`${base}/api/manage/tenants/${tenant.id}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify({ allowedOrigins: [...tenant.allowedOrigins, base], redirectUris: [...tenant.redirectUris, `${base}/`] }),
      });
      if (!changed.ok) throw new Error(`Could not update the demo tenant: ${changed.status} ${await changed.text()}`);
    }
    return tenant;
  }
  const created = await fetch(`${base}/api/manage/tenants`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      displayName: 'Contoso (demo)',
      domains: [DEMO_DOMAIN],
      allowedOrigins: [base],
      redirectUris: [`${base}/`],
    }),
  });
  if (!created.ok) throw new Error(`Could not create the demo tenant: ${created.status} ${await created.text()}`);
  return (await created.json()) as { id: string };
}

/** The demo page signs in as this guest; inviting again returns the same guest. */
async function inviteDemoGuest(base: string, key: string, tenantId: string): Promise<void> {
  const invited = await fetch(`${base}/api/manage/tenants/${tenantId}/invitations`, {
    method: 'POST',
    headers: { 'x-functions-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ invitedUserEmailAddress: DEMO_GUEST, invitedUserDisplayName: 'Demo Guest', inviteRedirectUrl: `${base}/` }),
  });
  if (!invited.ok) throw new Error(`Could not invite the demo guest: ${invited.status} ${await invited.text()}`);
}

async function main(): Promise<void> {
  ensureLocalSettings();
  const settings = { ...readLocalSettings(), ...process.env };
  // The demo tenant's domain routes at once, without a DNS record (development only; a
  // local.settings.json made before this setting existed lacks it).
  if (settings.DEV_TRUST_DOMAINS === undefined) process.env.DEV_TRUST_DOMAINS = 'true';
  // The host's port first: a taken PORT or a stale PUBLIC_BASE_URL is then the only line printed.
  const host = await listenLocalHost();
  const { server, port: hostPort } = host;
  const port = azuritePort(settings.TABLES_CONNECTION_STRING ?? 'UseDevelopmentStorage=true');
  let azurite: RunningAzurite | undefined;
  if (port !== undefined) {
    // Another program on that port is left to the storage check, which names the setting.
    if (await azuriteAnswers(port)) console.log(`Azurite already answers on port ${port}; using it.`);
    else if (!(await portAnswers(port))) azurite = azuriteStarted = await startAzurite({ port, location: '.azurite' });
  }

  // The app reads local.settings.json itself, as it would under Core Tools.
  const app = await host.serve();
  // The Queue service the mail waits in (AzureWebJobsStorage), unless one answers already;
  // after the Table service answered, so a misconfigured one stops the start first.
  const queuePort = azuritePort(settings.AzureWebJobsStorage ?? 'UseDevelopmentStorage=true', 'Queue');
  let azuriteQueue: { stop(): Promise<void> } | undefined;
  if (queuePort !== undefined && !(await portAnswers(queuePort))) azuriteQueue = azuriteQueueStarted = await startAzuriteQueue({ port: queuePort, location: '.azurite' });
  const base = `http://localhost:${hostPort}`;
  const tenant = await ensureDemoTenant(base, app.config.operatorKey);
  await inviteDemoGuest(base, app.config.operatorKey, tenant.id);
  const stopTimers = startTimers(app.registrations.timer ?? []);
  const queues = startAppQueues(app);

  console.log(`
guestpass is running.

  Demo page (sign in here):  ${base}/   (as ${DEMO_GUEST}; the code shows on the page)
  API base URL:              ${base}/api
  Demo tenant:               ${tenant.id}  (also reachable as ${DEMO_DOMAIN})
  OpenID Connect issuer:     ${app.config.publicBaseUrl}/api/${tenant.id}
  Operator credential:       ${app.config.operatorKey}   (header x-functions-key)
  CLI:                       export GUESTPASS_URL=${base} GUESTPASS_KEY=<the credential above>; npx guestpass --help
  Operator console:          ${base}/api/manage/console/   (sign in with the operator credential)
  Dev outbox:                ${base}/api/dev/outbox
  Timers:                    ${(app.registrations.timer ?? []).map((t) => `${t.name} (${String(t.options.schedule)})`).join(', ') || 'none'}
  Queue triggers:            ${(app.registrations.queue ?? []).map((q) => q.name).join(', ') || 'none'}
  Azurite (Table service):   ${azurite ? `started on port ${port}, data in .azurite/` : 'external'}
  Azurite (Queue service):   ${azuriteQueue ? `started on port ${queuePort}, data in .azurite/` : 'external'}

Press Ctrl-C to stop.`);

  const stop = async () => {
    console.log('\nStopping…');
    stopTimers();
    server.close();
    server.closeAllConnections();
    await queues.stop();
    await Promise.all([azurite?.stop(), azuriteQueue?.stop()]);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

let azuriteStarted: RunningAzurite | undefined;
let azuriteQueueStarted: { stop(): Promise<void> } | undefined;
main().catch(async (error) => {
  console.error(error instanceof Error ? error.message : error);
  await Promise.all([azuriteStarted?.stop(), azuriteQueueStarted?.stop()]);
  process.exit(1);
});
