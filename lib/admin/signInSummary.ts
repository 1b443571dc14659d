import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { LOG_PREFIX, type SignInEvent } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { DAY_MS, dayTablesCovering } from '../storage/dayTables.js';
import { escapeOData, newestFirstKey } from '../storage/tables.js';
import { refusalPartition } from '../storage/tenantCounters.js';
import { REFUSAL_REASONS, type RefusalReason } from '../signin/refusals.js';
import { resolveTenant } from '../tenants/tenants.js';

const HOUR_MS = 3_600_000;
export const MAX_SUMMARY_HOURS = 24 * 31;

export const signInSummaryQuery = lazySchema(() => z.object({
  hours: z.coerce.number().int().min(1).max(MAX_SUMMARY_HOURS).default(168),
}));
export type SignInSummaryQuery = z.infer<typeof signInSummaryQuery>;

export const signInSummaryResponse = lazySchema(() => z.object({
  value: z.array(
    z.object({
      hour: z.iso.datetime().meta({ description: 'The start of the hour (UTC).' }),
      signIns: z.number().int().meta({ description: 'verify-code answers that signed a guest in.' }),
      failures: z.number().int().meta({ description: 'Every other outcome of either call except a code sent: wrong, expired or reused codes, refusals, limits, mail failures, addresses that are not guests.' }),
      codesSent: z.number().int().meta({ description: 'send-code calls that mailed a code.' }),
      stepUps: z.number().int().meta({ description: 'Step-ups solved and used (a call from an address new to a guest past its ceiling).' }),
      mailsFailed: z.number().int().meta({ description: "The tenant's mails (codes and invitations) whose fate this hour was refused, dropped, bounced or blocked, or a retry after an outage." }),
      refusals: z
        .object({ domain_blocked: z.number().int(), otp_disabled: z.number().int(), guest_disabled: z.number().int() })
        .meta({ description: "Calls refused per reason, guests' and strangers' alike (counted per hour for the tenant; a guest's log holds each reason at most once an hour)." }),
    }),
  ),
}));
export type SignInSummary = z.infer<typeof signInSummaryResponse>;

/** What the summary reads of a log row: three short columns. */
interface SummaryRow {
  at: string;
  event: SignInEvent;
  outcome: string;
}

/**
 * The tenant's sign-in log counted per hour over the last `hours` hours, oldest first,
 * every hour present (zero when quiet): the console's chart. One query over the tenant's
 * guest partitions, its RowKey range cut to the window (log RowKeys are newest-first
 * times, lib/storage/tables.ts newestFirstKey) and only three columns selected, so it reads the
 * window's log rows once and nothing else; Table Storage pages it by 1000 rows (and at
 * partition boundaries). Rows past SIGN_IN_LOG_RETENTION_DAYS are gone or left out.
 */
export async function summarizeSignInLogs(rt: Runtime, tenantRef: string, query: SignInSummaryQuery): Promise<SignInSummary> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  const now = rt.now();
  const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS - (query.hours - 1) * HOUR_MS;
  const tenantId = escapeOData(tenant.id);
  // Newer rows have smaller keys: every row at or after firstHour sorts below this key.
  const windowEnd = LOG_PREFIX + newestFirstKey(firstHour - 1, '').slice(0, -1);
  const filter = [
    `PartitionKey ge '${tenantId}_' and PartitionKey lt '${tenantId}\`'`,
    `RowKey ge '${LOG_PREFIX}' and RowKey lt '${escapeOData(windowEnd)}'`,
    `expiresAt gt datetime'${new Date(now).toISOString()}'`,
  ].join(' and ');

  const buckets = Array.from({ length: query.hours }, (_, index) => ({
    hour: new Date(firstHour + index * HOUR_MS).toISOString().replace('.000Z', 'Z'),
    signIns: 0,
    failures: 0,
    codesSent: 0,
    stepUps: 0,
    mailsFailed: 0,
    refusals: Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, 0])) as Record<RefusalReason, number>,
  }));
  const rows = rt.tables.guests.listEntities<SummaryRow>({ queryOptions: { filter, select: ['at', 'event', 'outcome'] } });
  for await (const row of rows) {
    const bucket = buckets[Math.floor((Date.parse(row.at) - firstHour) / HOUR_MS)];
    if (!bucket) continue;
    if (row.outcome === 'signed_in') bucket.signIns += 1;
    else if (row.outcome === 'code_sent') bucket.codesSent += 1;
    // A guest's logged refusal is in the tenant's refusal counts already.
    else if (!(REFUSAL_REASONS as readonly string[]).includes(row.outcome)) bucket.failures += 1;
  }
  await Promise.all([addRefusalCounts(rt, tenant.id, firstHour, now, buckets), addMailFailures(rt, tenant.id, firstHour, now, buckets)]);
  return { value: buckets };
}

/** Mail fates that are failures (lib/mail/delivery.ts): what the console's "mails failed" counts. */
const FAILED_MAIL_STATUSES = ['retrying', 'refused', 'dropped', 'bounced', 'blocked'] as const;

/** The tenant's mail rows of each day in the window whose latest fate is a failure, counted in the hour of that fate. */
async function addMailFailures(rt: Runtime, tenantId: string, firstHour: number, now: number, buckets: { mailsFailed: number }[]): Promise<void> {
  const statuses = FAILED_MAIL_STATUSES.map((status) => `status eq '${status}'`).join(' or ');
  const filter = `tenantId eq '${escapeOData(tenantId)}' and (${statuses})`;
  for (const table of await Promise.all(dayTablesCovering(rt, 'mail', firstHour, now))) {
    for await (const row of table.listEntities<{ statusAt: string }>({ queryOptions: { filter, select: ['statusAt'] } })) {
      const bucket = buckets[Math.floor((Date.parse(row.statusAt) - firstHour) / HOUR_MS)];
      if (bucket) bucket.mailsFailed += 1;
    }
  }
}

/** The tenant's refusal counters of each day in the window (one partition a day: a row per instance), added to their hours. */
async function addRefusalCounts(rt: Runtime, tenantId: string, firstHour: number, now: number, buckets: { stepUps: number; refusals: Record<RefusalReason, number> }[]): Promise<void> {
  const tables = await Promise.all(dayTablesCovering(rt, 'refusals', firstHour, now));
  for (const [index, table] of tables.entries()) {
    const dayStart = (Math.floor(firstHour / DAY_MS) + index) * DAY_MS;
    const rows = table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${escapeOData(refusalPartition(tenantId, dayStart))}'` } });
    for await (const row of rows) {
      for (const [name, value] of Object.entries(row)) {
        const counter = /^h(\d{2})_([a-z_]+)$/.exec(name);
        if (!counter || typeof value !== 'number') continue;
        const bucket = buckets[Math.floor((dayStart + Number(counter[1]) * HOUR_MS - firstHour) / HOUR_MS)];
        if (!bucket) continue;
        if (counter[2] === 'step_up') bucket.stepUps += value;
        else if ((REFUSAL_REASONS as readonly string[]).includes(counter[2]!)) bucket.refusals[counter[2] as RefusalReason] += value;
      }
    }
  }
}
