import { closeSync, ftruncateSync, openSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import {
  addressKey,
  countBulkInvite,
  decodeBulkInviteCsv,
  parseBulkInviteCsv,
  planBulkInvite,
  skipAlreadyInvited,
  writeBulkInviteResultsCsv,
  type BulkInviteResult,
  type BulkInviteRow,
} from '../lib/admin/bulkInviteCsv.js';
import type { Guest } from '../lib/guests/guests.js';
import { ApiError, type ManagementClient, tenantPath, UsageError } from './client.js';

export interface BulkInviteOptions {
  tenant: string;
  file: string;
  resultsFile: string;
  concurrency: number;
  /** Send the invitation mail again to addresses that are already guests (Entra's reinvite). */
  resend: boolean;
  /** A progress bar on a terminal, plain lines otherwise. */
  progress: 'bar' | 'lines' | 'none';
  log: (line: string) => void;
}

export interface BulkInviteSummary {
  results: BulkInviteResult[];
  succeeded: number;
  failed: number;
  skipped: number;
  /** Every row of the file with a guest in it. */
  total: number;
  seconds: number;
  resultsFile: string;
}

/** Errors worth another try: the service was busy or storage blinked. */
function retriable(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 503 || error.status === 502 || error.code === 'storage_unavailable');
}

async function inviteRow(client: ManagementClient, tenant: string, row: BulkInviteRow): Promise<BulkInviteResult> {
  const body = {
    invitedUserEmailAddress: row.email,
    inviteRedirectUrl: row.redirectUrl,
    sendInvitationMessage: row.sendEmail,
    ...(row.displayName ? { invitedUserDisplayName: row.displayName } : {}),
    ...(row.message ? { invitedUserMessageInfo: { customizedMessageBody: row.message } } : {}),
  };
  for (let attempt = 1; ; attempt += 1) {
    try {
      const invitation = await client.request<{ invitedUser: { id: string } }>('POST', tenantPath(tenant, '/invitations'), body);
      return { row: row.row, email: row.email, status: 'Succeeded', invitedUserId: invitation.invitedUser.id };
    } catch (error) {
      if (attempt < 3 && retriable(error)) {
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        continue;
      }
      if (error instanceof ApiError) return { row: row.row, email: row.email, status: 'Failed', error: `${error.code}: ${error.message}` };
      throw error;
    }
  }
}

/** A file the user named, as text; a missing or unreadable one is one line naming it. */
function readCsv(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'there is no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'it may not be read' : (error as Error).message;
    throw new UsageError(`Cannot read ${file}: ${why}.`);
  }
  return decodeBulkInviteCsv(bytes);
}

/**
 * The results file, opened (and emptied) before the first invitation: a path that cannot
 * be written stops the run before anyone is invited or mailed.
 */
function openResults(resultsFile: string, input: string): number {
  const same = (() => {
    try {
      return realpathSync(resultsFile) === realpathSync(input);
    } catch {
      return resolve(resultsFile) === resolve(input);
    }
  })();
  if (same) throw new UsageError(`--results ${resultsFile} is the file being imported: name another results file.`);
  try {
    return openSync(resultsFile, 'w');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its folder does not exist' : code === 'EACCES' || code === 'EPERM' ? 'it may not be written' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    throw new UsageError(`Cannot write the results file ${resultsFile}: ${why}. Nothing was sent; choose another with --results.`);
  }
}

/**
 * The addresses of `rows` that are already guests of the tenant, as addressKeys: a few
 * rows are looked up one by one (an exact-address search each), more by reading the
 * tenant's guest list once.
 */
async function alreadyInvited(client: ManagementClient, tenant: string, rows: BulkInviteRow[], concurrency: number): Promise<Set<string>> {
  const found = new Set<string>();
  if (rows.length === 0) return found;
  if (rows.length > 100) {
    for (const guest of await client.all<Guest>(tenantPath(tenant, '/users'))) found.add(addressKey(guest.email));
    return found;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, rows.length) }, async () => {
      while (next < rows.length) {
        const key = addressKey(rows[next++]!.email);
        const page = await client.get<{ value: Guest[] }>(tenantPath(tenant, `/users?search=${encodeURIComponent(key)}&$top=2`));
        if (page.value.some((guest) => addressKey(guest.email) === key)) found.add(key);
      }
    }),
  );
  return found;
}

/**
 * `guestpass invite --csv`: Entra's bulk-invite template in, the portal-style results CSV
 * out. The whole file is checked before anything is sent: rows it gets wrong fail with
 * their reason, a repeated address is skipped as the same as its first row, and an
 * address that is already a guest is skipped (not mailed again) unless `resend`. The
 * rest are invited at most `concurrency` at a time, under a bar counting every row.
 */
export async function bulkInvite(client: ManagementClient, options: BulkInviteOptions): Promise<BulkInviteSummary> {
  const started = performance.now();
  const plan = planBulkInvite(parseBulkInviteCsv(readCsv(options.file)));
  const results = openResults(options.resultsFile, options.file);
  const outcomes: BulkInviteResult[] = [...plan.decided];
  try {
    const { todo, skipped } = skipAlreadyInvited(plan.todo, await alreadyInvited(client, options.tenant, plan.todo, options.concurrency), options.resend);
    outcomes.push(...skipped);

    const failedSoFar = () => outcomes.filter((r) => r.status === 'Failed').length;
    const bar =
      options.progress === 'bar'
        ? new SingleBar({ format: 'Inviting [{bar}] {value}/{total} rows | {failed} failed | ETA {eta_formatted}', hideCursor: true, etaBuffer: 200, fps: 5 }, Presets.shades_classic)
        : undefined;
    // Every row counts, those decided before sending included, so the bar's total is the file's.
    bar?.start(plan.total, outcomes.length, { failed: failedSoFar() });
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const result = await inviteRow(client, options.tenant, todo[next++]!);
        outcomes.push(result);
        if (bar) bar.increment(1, { failed: failedSoFar() });
        else if (options.progress === 'lines') options.log(`row ${result.row} ${result.email}: ${result.status}${result.error ? ` (${result.error})` : ''}`);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length)) }, worker));
    } finally {
      bar?.stop();
    }
  } finally {
    ftruncateSync(results, 0);
    writeSync(results, writeBulkInviteResultsCsv(outcomes), 0);
    closeSync(results);
  }
  const sorted = [...outcomes].sort((a, b) => a.row - b.row);
  // Every failure, the file's and the server's, with its row, after the bar.
  if (options.progress !== 'none') for (const r of sorted.filter((r) => r.status === 'Failed')) options.log(`row ${r.row} ${r.email || '(no address)'}: Failed (${r.error})`);
  return { results: sorted, ...countBulkInvite(outcomes, plan.total), seconds: (performance.now() - started) / 1000, resultsFile: options.resultsFile };
}
