import { randomBytes, randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { DAY_MS, dayTable } from '../storage/dayTables.js';
import { describeError, MailRefused, type OutgoingMail } from './message.js';

/**
 * Every mail guestpass hands to a provider leaves one row in the mail table of its
 * UTC day (`<prefix>mail<yyyymmdd>`, lib/storage/dayTables.ts), keyed by the mail's id: what the provider answered (accepted, or refused and why),
 * later what its delivery reports said (delivered, bounced, blocked). The guest's
 * sign-in log entry names the mail by that id (`mailId`), so the log shows each code
 * mail's fate, and a delivery report — which knows only the id — finds its row with
 * one point read: the id is a UUID version 7, whose first 48 bits are the time it
 * was made, so it names its day's table. The cleanup timer drops a day's table once
 * SIGN_IN_LOG_RETENTION_DAYS have passed (one transaction, whatever it held).
 */
export type DeliveryStatus = 'accepted' | 'refused' | 'delivered' | 'bounced' | 'blocked';

export interface MailRecord {
  tenantId: string;
  kind: string;
  provider: string;
  providerMessageId?: string;
  status: DeliveryStatus;
  reason?: string;
  /** When the provider (or its report) said so: reports are applied only if newer. */
  statusAt: string;
  expiresAt: Date;
}

export const MAIL_ROW = 'mail';

/** What the sign-in log shows of a mail. */
export interface Delivery {
  status: DeliveryStatus;
  reason?: string;
  provider: string;
  updatedAt: string;
}

export function toDelivery(row: MailRecord): Delivery {
  return { status: row.status, ...(row.reason ? { reason: row.reason } : {}), provider: row.provider, updatedAt: row.statusAt };
}

const REASON_MAX = 500;

/** A new mail id: a UUID version 7 (RFC 9562) of `atMs`, so the id tells the day table its row is in. */
export function newMailId(atMs: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(atMs, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** When a mail id was made, if it is one newMailId made. */
export function mailIdTime(mailId: string): number | undefined {
  const hex = mailId.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex) || hex[12] !== '7') return undefined;
  return parseInt(hex.slice(0, 12), 16);
}

/** The mail table of the day the id was made in, or undefined for an id newMailId did not make. */
export async function mailTableOf(rt: Runtime, mailId: string): Promise<TableClient | undefined> {
  const at = mailIdTime(mailId);
  // An id from the future or past the retention is none of ours (a report for it is ignored).
  if (at === undefined || at > rt.now() + DAY_MS || at < rt.now() - (rt.config.signInLogRetentionDays + 1) * DAY_MS) return undefined;
  return dayTable(rt, 'mail', at);
}

async function recordMail(rt: Runtime, mail: OutgoingMail, status: DeliveryStatus, detail: { reason?: string; providerMessageId?: string }): Promise<void> {
  const now = rt.now();
  const table = await mailTableOf(rt, mail.id);
  if (!table) return;
  const row: MailRecord & { partitionKey: string; rowKey: string } = {
    partitionKey: mail.id,
    rowKey: MAIL_ROW,
    tenantId: mail.tenantId,
    kind: mail.kind,
    provider: rt.mailer.provider,
    status,
    statusAt: new Date(now).toISOString(),
    expiresAt: new Date(now + rt.config.signInLogRetentionDays * DAY_MS),
  };
  if (detail.reason) row.reason = detail.reason.slice(0, REASON_MAX);
  if (detail.providerMessageId) row.providerMessageId = detail.providerMessageId.slice(0, 512);
  await table.createEntity(row);
}

/**
 * Sends one mail through the configured provider within the tenant's daily cap, and
 * records the provider's answer under the mail's id. A refusal or an unreachable
 * provider is recorded too and answered 502 email_failed.
 */
export async function deliverMail(rt: Runtime, mail: OutgoingMail, dailyCap: number | 'reserved'): Promise<void> {
  if (dailyCap !== 'reserved') await takeDailyMailSlot(rt, mail.tenantId, dailyCap, true);
  let providerMessageId: string | undefined;
  const started = performance.now();
  try {
    providerMessageId = (await rt.mailer.send(mail)).providerMessageId;
    // Only the provider's part: send-code for a stranger waits as long (runtime.ts MailLatency).
    rt.mailLatency.record(performance.now() - started);
  } catch (error) {
    const reason = error instanceof MailRefused ? error.reason : `provider not reached: ${describeError(error)}`;
    await recordMail(rt, mail, 'refused', { reason }).catch(() => undefined);
    throw new GuestpassError('email_failed', { cause: error });
  }
  // The mail is out: a record that cannot be written must not turn that into a failure.
  await recordMail(rt, mail, 'accepted', { providerMessageId }).catch(() => undefined);
}

/**
 * For an address that is not a guest, after its cap check (takeDailyMailSlot without
 * counting): one write as deliverMail's record, which counts no mail.
 */
export async function deliverNothing(rt: Runtime, tenantId: string): Promise<void> {
  const now = rt.now();
  await dayTable(rt, 'limits', now)
    .then((table) => table.upsertEntity({ partitionKey: `mailnone_${tenantId}`, rowKey: utcDay(now) }, 'Replace'))
    .catch(() => undefined);
}

/*
 * The daily cap: one row per app instance in a partition per tenant and UTC day,
 * each holding what that instance has sent (only its own instance writes a row, so
 * writes never race on an ETag). The day's total is the sum of the rows, read at most
 * every TENANT_CACHE_SECONDS (as long as the instance trusts what it read of a tenant)
 * per tenant and instance, plus what this instance has sent since.
 * A burst on one instance shares its writes: an increment waits for the next write of
 * the row, which carries every increment made meanwhile. So the cap is exact within one
 * instance and late by at most TENANT_CACHE_SECONDS of other instances' mail: it guards
 * a shared sender's quota, not an exact count.
 */

interface DayCount {
  partitionKey: string;
  /** The start of its UTC day. */
  startMs: number;
  /** The sum of the other instances' rows when last read, and when. */
  others: number;
  readAt: number;
  reading?: Promise<void>;
  /** What this instance has sent today. */
  own: number;
  /** The write of this instance's row under way, and the one waiting for it. */
  current?: Promise<void>;
  queued?: Promise<void>;
}

interface InstanceCounts {
  instanceId: string;
  days: Map<string, DayCount>;
}

/** Per set of tables (one per process; tests open several), so two runtimes in one process count as two instances. */
const instanceCounts = new WeakMap<Runtime['tables'], InstanceCounts>();

function countsOf(rt: Runtime): InstanceCounts {
  let counts = instanceCounts.get(rt.tables);
  if (!counts) instanceCounts.set(rt.tables, (counts = { instanceId: randomUUID(), days: new Map() }));
  return counts;
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

function secondsUntilNextUtcDay(ms: number): number {
  return Math.max(1, Math.ceil((Math.floor(ms / DAY_MS + 1) * DAY_MS - ms) / 1000));
}

async function readOthers(rt: Runtime, instanceId: string, day: DayCount): Promise<void> {
  let others = 0;
  const table = await dayTable(rt, 'limits', day.startMs);
  for await (const row of table.listEntities<{ count: number }>({ queryOptions: { filter: `PartitionKey eq '${day.partitionKey}'` } })) {
    if (row.rowKey !== instanceId) others += Number(row.count) || 0;
  }
  day.others = others;
  day.readAt = rt.now();
}

/**
 * Writes this instance's row with its count. A write not yet started carries every
 * increment made before it starts, so callers in a burst share it.
 */
function writeOwn(rt: Runtime, instanceId: string, day: DayCount, now: number): Promise<void> {
  if (day.queued) return day.queued;
  const previous = day.current ?? Promise.resolve();
  const queued: Promise<void> = previous
    .catch(() => undefined)
    .then(async () => {
      day.queued = undefined;
      day.current = queued;
      // In the limits table of the day: the cleanup drops it a day later.
      const table = await dayTable(rt, 'limits', day.startMs);
      await table.upsertEntity({ partitionKey: day.partitionKey, rowKey: instanceId, count: day.own }, 'Replace');
    })
    .finally(() => {
      if (day.current === queued) day.current = undefined;
    });
  day.queued = queued;
  return queued;
}

/**
 * Fails 429 mail_cap_reached when the tenant has sent its daily cap of mails today;
 * else counts one (when `counts`) before the mail goes.
 */
export async function takeDailyMailSlot(rt: Runtime, tenantId: string, dailyCap: number, counts: boolean): Promise<void> {
  if (dailyCap === 0) return;
  const now = rt.now();
  const { instanceId, days } = countsOf(rt);
  const partitionKey = `mailcap_${tenantId}_${utcDay(now)}`;
  let day = days.get(partitionKey);
  if (!day) {
    // A new day: yesterday's counts are of no more use.
    for (const [key, old] of days) if (!key.endsWith(partitionKey.slice(-9)) && !old.current) days.delete(key);
    days.set(partitionKey, (day = { partitionKey, startMs: Math.floor(now / DAY_MS) * DAY_MS, others: 0, readAt: -Infinity, own: 0 }));
  }
  if (now - day.readAt >= rt.config.tenantCacheSeconds * 1000) {
    day.reading ??= readOthers(rt, instanceId, day).finally(() => {
      day!.reading = undefined;
    });
    await day.reading;
  }
  if (day.others + day.own >= dailyCap) {
    throw new GuestpassError('mail_cap_reached', { retryAfterSeconds: secondsUntilNextUtcDay(now) });
  }
  // Counted before the mail goes, so a burst cannot pass the cap while its writes are under way.
  if (counts) day.own += 1;
  await writeOwn(rt, instanceId, day, now);
}
