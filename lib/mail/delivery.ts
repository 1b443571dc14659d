import { randomInt } from 'node:crypto';
import { GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { isStatus } from '../storage.js';
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
 * The daily cap: a counter per tenant and UTC day, split over SHARDS rows of one
 * partition so that a burst of sign-ins in one tenant does not queue on one row's ETag.
 * One query reads every shard (the day's total); one conditional write adds to a shard
 * picked at random. Calls admitted together may pass the cap by a few (each saw the
 * total before the others' writes): it guards a shared sender's quota, not an exact count.
 */
const SHARDS = 16;
const SLOT_TRIES = 3;

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

function secondsUntilNextUtcDay(ms: number): number {
  return Math.max(1, Math.ceil((Math.floor(ms / DAY_MS + 1) * DAY_MS - ms) / 1000));
}

interface CapShard {
  count: number;
}

async function takeDailyMailSlot(rt: Runtime, tenantId: string, dailyCap: number, counts: boolean): Promise<void> {
  if (dailyCap === 0) return;
  const now = rt.now();
  const partitionKey = `mailcap_${tenantId}_${utcDay(now)}`;
  const shards = new Map<string, { count: number; etag: string }>();
  for await (const row of rt.tables.limits.listEntities<CapShard>({ queryOptions: { filter: `PartitionKey eq '${partitionKey}'` } })) {
    shards.set(row.rowKey!, { count: Number(row.count) || 0, etag: row.etag });
  }
  const total = [...shards.values()].reduce((sum, shard) => sum + shard.count, 0);
  if (total >= dailyCap) {
    throw new GuestpassError('mail_cap_reached', { retryAfterSeconds: secondsUntilNextUtcDay(now) });
  }
  const expiresAt = new Date((Math.floor(now / DAY_MS) + 2) * DAY_MS);
  for (let attempt = 0; attempt < SLOT_TRIES; attempt += 1) {
    const rowKey = `shard_${randomInt(SHARDS)}`;
    let shard = shards.get(rowKey);
    try {
      if (attempt > 0 && shard) {
        const fresh = await rt.tables.limits.getEntity<CapShard>(partitionKey, rowKey);
        shard = { count: Number(fresh.count) || 0, etag: fresh.etag };
      }
      const entity = { partitionKey, rowKey, count: (shard?.count ?? 0) + (counts ? 1 : 0), expiresAt };
      if (shard) await rt.tables.limits.updateEntity(entity, 'Replace', { etag: shard.etag });
      else await rt.tables.limits.createEntity(entity);
      return;
    } catch (error) {
      // Another send wrote this shard first (or created it): try another.
      if (!isStatus(error, 404, 409, 412)) throw error;
      shards.delete(rowKey);
    }
  }
  // Still racing after a few shards: let this one mail go uncounted rather than fail the sign-in.
}
