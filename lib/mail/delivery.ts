import { randomUUID } from 'node:crypto';
import { GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { describeError, MailRefused, type OutgoingMail } from './message.js';

/**
 * Every mail guestpass hands to a provider leaves one row in the `mail` table,
 * keyed by the mail's id: what the provider answered (accepted, or refused and why),
 * later what its delivery reports said (delivered, bounced, blocked). The guest's
 * sign-in log entry names the mail by that id (`mailId`), so the log shows each code
 * mail's fate, and a delivery report — which knows only the id — finds its row with
 * one point read.
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

const DAY_MS = 86_400_000;
const REASON_MAX = 500;

async function recordMail(rt: Runtime, mail: OutgoingMail, status: DeliveryStatus, detail: { reason?: string; providerMessageId?: string }): Promise<void> {
  const now = rt.now();
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
  await rt.tables.mail.createEntity(row);
}

/**
 * Sends one mail through the configured provider within the tenant's daily cap, and
 * records the provider's answer under the mail's id. A refusal or an unreachable
 * provider is recorded too and answered 502 email_failed.
 */
export async function deliverMail(rt: Runtime, mail: OutgoingMail, dailyCap: number): Promise<void> {
  await takeDailyMailSlot(rt, mail.tenantId, dailyCap, true);
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
 * For an address that is not a guest: the same cap check (so a capped tenant answers
 * 429 to guests and strangers alike) and the same number of writes as deliverMail,
 * none of which counts a mail.
 */
export async function deliverNothing(rt: Runtime, tenantId: string, dailyCap: number): Promise<void> {
  await takeDailyMailSlot(rt, tenantId, dailyCap, false);
  const now = rt.now();
  await rt.tables.limits
    .upsertEntity({ partitionKey: `mailnone_${tenantId}`, rowKey: utcDay(now), expiresAt: new Date(now + DAY_MS) }, 'Replace')
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
  for await (const row of rt.tables.limits.listEntities<{ count: number }>({ queryOptions: { filter: `PartitionKey eq '${day.partitionKey}'` } })) {
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
      await rt.tables.limits
        .upsertEntity(
          { partitionKey: day.partitionKey, rowKey: instanceId, count: day.own, expiresAt: new Date((Math.floor(now / DAY_MS) + 2) * DAY_MS) },
          'Replace',
        );
    })
    .finally(() => {
      if (day.current === queued) day.current = undefined;
    });
  day.queued = queued;
  return queued;
}

async function takeDailyMailSlot(rt: Runtime, tenantId: string, dailyCap: number, counts: boolean): Promise<void> {
  if (dailyCap === 0) return;
  const now = rt.now();
  const { instanceId, days } = countsOf(rt);
  const partitionKey = `mailcap_${tenantId}_${utcDay(now)}`;
  let day = days.get(partitionKey);
  if (!day) {
    // A new day: yesterday's counts are of no more use.
    for (const [key, old] of days) if (!key.endsWith(partitionKey.slice(-9)) && !old.current) days.delete(key);
    days.set(partitionKey, (day = { partitionKey, others: 0, readAt: -Infinity, own: 0 }));
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
