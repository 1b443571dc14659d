import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import {
  parseBulkInviteCsv,
  parseBulkInviteResultsCsv,
  writeBulkInviteResultsCsv,
  type BulkInviteResult,
  type BulkInviteRow,
} from '../lib/admin/bulkInviteCsv.js';
import { ApiError, type ManagementClient, tenantPath } from './client.js';

export interface BulkInviteOptions {
  tenant: string;
  file: string;
  resultsFile: string;
  concurrency: number;
  /** A progress bar on a terminal, plain lines otherwise. */
  progress: 'bar' | 'lines' | 'none';
  log: (line: string) => void;
}

export interface BulkInviteSummary {
  results: BulkInviteResult[];
  succeeded: number;
  failed: number;
  skipped: number;
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

/**
 * `guestpass invite --csv`: Entra's bulk-invite template in, the portal-style results CSV
 * out. Rows the file itself gets wrong are reported with their reason and not sent; the
 * others are invited at most `concurrency` at a time. Re-running with the same results
 * file skips the rows it already invited (same row, same address), so nobody is mailed
 * twice; inviting an address twice never makes a second guest anyway.
 */
export async function bulkInvite(client: ManagementClient, options: BulkInviteOptions): Promise<BulkInviteSummary> {
  const started = performance.now();
  const { rows, errors } = parseBulkInviteCsv(readFileSync(options.file, 'utf8'));
  const previous = existsSync(options.resultsFile) ? parseBulkInviteResultsCsv(readFileSync(options.resultsFile, 'utf8')) : [];
  const done = new Map(previous.filter((r) => r.status !== 'Failed').map((r) => [`${r.row} ${r.email.toLowerCase()}`, r]));

  const results: BulkInviteResult[] = errors.map((e) => ({ row: e.row, email: e.email, status: 'Failed', error: e.error }));
  const todo: BulkInviteRow[] = [];
  for (const row of rows) {
    const before = done.get(`${row.row} ${row.email.toLowerCase()}`);
    if (before) results.push({ ...before, row: row.row, status: 'Skipped', error: 'invited by an earlier run' });
    else todo.push(row);
  }

  const bar = options.progress === 'bar' ? new SingleBar({ format: 'Inviting [{bar}] {value}/{total} rows | {failed} failed | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic) : undefined;
  let failed = 0;
  bar?.start(todo.length, 0, { failed });
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const row = todo[next++]!;
      const result = await inviteRow(client, options.tenant, row);
      results.push(result);
      if (result.status === 'Failed') failed += 1;
      if (bar) bar.increment(1, { failed });
      else if (options.progress === 'lines') options.log(`row ${result.row} ${result.email}: ${result.status}${result.error ? ` (${result.error})` : ''}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length)) }, worker));
  } finally {
    bar?.stop();
    writeFileSync(options.resultsFile, writeBulkInviteResultsCsv(results));
  }
  if (options.progress !== 'none') for (const e of errors) options.log(`row ${e.row} ${e.email || '(no address)'}: Failed (${e.error})`);
  const count = (status: BulkInviteResult['status']) => results.filter((r) => r.status === status).length;
  return {
    results: [...results].sort((a, b) => a.row - b.row),
    succeeded: count('Succeeded'),
    failed: count('Failed'),
    skipped: count('Skipped'),
    seconds: (performance.now() - started) / 1000,
    resultsFile: options.resultsFile,
  };
}
