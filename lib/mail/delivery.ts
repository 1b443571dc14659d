import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { DAY_MS, dayTable, secondsUntilNextDay } from '../storage/dayTables.js';
import { isStatus } from '../storage/tables.js';
import type { CounterTake } from '../storage/tenantCounters.js';
import { emitEvent } from '../events/emit.js';
import { telemetry } from '../telemetry/telemetry.js';

/**
 * Every mail guestpass queues gets one row, once the send-mail trigger has handled it,
 * in the mail table of its UTC day (`<prefix>mail<yyyymmdd>`, lib/storage/dayTables.ts),
 * keyed by the mail's id: what became of it (sent, refused and why, dropped unsent,
 * retrying after an outage; no row yet: still queued), later what its delivery reports
 * said (delivered, bounced, blocked). The guest's
 * sign-in log entry names the mail by that id (`mailId`), so the log shows each code
 * mail's fate, and a delivery report — which knows only the id — finds its row with
 * one point read: the id is a UUID version 7, whose first 48 bits are the time it
 * was made, so it names its day's table. The cleanup timer drops a day's table once
 * SIGN_IN_LOG_RETENTION_DAYS have passed (one transaction, whatever it held).
 */
export type DeliveryStatus = 'queued' | 'retrying' | 'sent' | 'refused' | 'dropped' | 'delivered' | 'bounced' | 'blocked';

export interface MailRecord {
  tenantId: string;
  kind: string;
  provider: string;
  providerMessageId?: string;
  status: DeliveryStatus;
  reason?: string;
  /** How many times the trigger tried (a retrying or sent mail). */
  attempts?: number;
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

/**
 * Records what became of a mail (the send-mail trigger's part): sent, refused with the
 * provider's reason, dropped unsent and why, or retrying after an outage. Until the
 * first record the mail is queued. Written whole each time (the trigger is the only
 * writer until the mail is out; delivery reports come after).
 */
export async function recordMailFate(
  rt: Runtime,
  mail: { id: string; tenantId: string; kind: string },
  status: Extract<DeliveryStatus, 'sent' | 'refused' | 'dropped' | 'retrying'>,
  detail: { reason?: string; providerMessageId?: string; attempts?: number } = {},
): Promise<void> {
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
  if (detail.attempts) row.attempts = detail.attempts;
  await table.upsertEntity(row, 'Replace');
  if (status === 'dropped') telemetry.count('mails', { 'mail.kind': mail.kind, fate: 'dropped' });
  // The provider's reason may quote the address: the event carries the mail's id and kind only.
  if (status === 'refused') await emitEvent(rt, mail.tenantId, 'mail.refused', { mailId: mail.id, kind: mail.kind });
}

/** The mail's record, if the trigger has written one (none: still queued). */
export async function readMailFate(rt: Runtime, mailId: string): Promise<MailRecord | undefined> {
  const table = await mailTableOf(rt, mailId);
  if (!table) return undefined;
  try {
    return await table.getEntity<MailRecord>(mailId, MAIL_ROW);
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** The tenant's mails of the day against its daily cap (lib/storage/tenantCounters.ts): 429 mail_cap_reached once it is full. */
export function dailyMailSlot(dailyCap: number, counts: boolean, now: number): CounterTake {
  return {
    counter: 'mails',
    cap: dailyCap,
    counts,
    refusal: () => new GuestpassError('mail_cap_reached', { retryAfterSeconds: secondsUntilNextDay(now) }),
  };
}
