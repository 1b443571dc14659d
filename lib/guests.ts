import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import type { Runtime } from './runtime.js';
import { escapeOData, guestPartition, keyDigest, newestFirstKey } from './storage.js';
import { randomUUID } from 'node:crypto';

export type SignInSource = 'OTP' | 'AzureAD' | 'MSA' | 'Google';
export type GuestState = 'PendingAcceptance' | 'Accepted';

/*
 * One partition per guest (PartitionKey = `<tenantId>_<sha256(normalised email)>`)
 * holds the guest row, the guest's code-and-limits row, its sessions and its sign-in
 * log, so verify-code commits all of them in one entity-group transaction.
 */
export const GUEST_ROW = 'guest';
export const OTP_ROW = 'otp';
export const SESSION_PREFIX = 'session_';
export const LOG_PREFIX = 'log_';

export interface GuestEntity {
  guestId: string;
  tenantId: string;
  email: string;
  displayName: string;
  state: GuestState;
  source?: SignInSource;
  invitedAt: string;
  redeemedAt?: string;
  lastSignInAt?: string;
  inviteRedirectUrl: string;
}

/** The newest code and the guest's send and failure history. */
export interface OtpEntity {
  codeHash?: string;
  /** The hash of the code consumed last, so a repeat of it is not counted as a wrong guess. */
  usedCodeHash?: string;
  codeExpiresAt?: number;
  codeAttempts: number;
  sendTimes: string;
  failTimes: string;
  expiresAt: Date;
}

export interface SessionEntity {
  guestId: string;
  email: string;
  displayName: string;
  source: SignInSource;
  issuedAt: string;
  expiresAt: Date;
}

export interface Guest {
  id: string;
  email: string;
  displayName: string;
  source: SignInSource | null;
  state: GuestState;
  invitedAt: string;
  redeemedAt: string | null;
  lastSignInAt: string | null;
}

export interface GuestUser {
  id: string;
  email: string;
  displayName: string;
  source: SignInSource;
}

export function toGuest(row: GuestEntity): Guest {
  return {
    id: row.guestId,
    email: row.email,
    displayName: row.displayName,
    source: row.source ?? null,
    state: row.state,
    invitedAt: row.invitedAt,
    redeemedAt: row.redeemedAt ?? null,
    lastSignInAt: row.lastSignInAt ?? null,
  };
}

export interface GuestPartition {
  partitionKey: string;
  guest?: TableEntityResult<GuestEntity>;
  otp?: TableEntityResult<OtpEntity>;
}

/** One query reads the guest row and its code row. */
export async function readGuestPartition(rt: Runtime, tenantId: string, email: string): Promise<GuestPartition> {
  const partitionKey = guestPartition(tenantId, email);
  const result: GuestPartition = { partitionKey };
  const rows = rt.tables.guests.listEntities<GuestEntity & OtpEntity>({
    queryOptions: {
      filter: `PartitionKey eq '${escapeOData(partitionKey)}' and (RowKey eq '${GUEST_ROW}' or RowKey eq '${OTP_ROW}')`,
    },
  });
  for await (const row of rows) {
    if (row.rowKey === GUEST_ROW) result.guest = row as TableEntityResult<GuestEntity>;
    else result.otp = row as TableEntityResult<OtpEntity>;
  }
  return result;
}

export type SignInEvent = 'send-code' | 'verify-code';

export interface SignInLogEntry {
  tenantId: string;
  guestId?: string;
  event: SignInEvent;
  outcome: string;
  clientIp?: string;
  /** The mail this attempt sent (lib/mail/delivery.ts keeps its delivery status under this id). */
  mailId?: string;
}

/** A sign-in log row for the guest's partition, to commit with the rest of the request's writes. */
export function signInLogAction(rt: Runtime, partitionKey: string, entry: SignInLogEntry): TransactionAction {
  const now = rt.now();
  return [
    'create',
    {
      partitionKey,
      rowKey: LOG_PREFIX + newestFirstKey(now, randomUUID()),
      tenantId: entry.tenantId,
      guestId: entry.guestId ?? '',
      event: entry.event,
      outcome: entry.outcome,
      clientIp: entry.clientIp ?? '',
      ...(entry.mailId ? { mailId: entry.mailId } : {}),
      at: new Date(now).toISOString(),
      expiresAt: new Date(now + rt.config.signInLogRetentionDays * 86_400_000),
    },
  ];
}

/** The partition of a guest named by the email digest a session token carries. */
export function partitionFromDigest(tenantId: string, emailDigest: string): string {
  return `${tenantId}_${emailDigest}`;
}

export function emailDigest(email: string): string {
  return keyDigest(email);
}
