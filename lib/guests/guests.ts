import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import type { Runtime } from '../runtime.js';
import { escapeOData, guestPartition, keyDigest, newestFirstKey } from '../storage/tables.js';
import { randomUUID } from 'node:crypto';

export type SignInSource = 'OTP' | 'AzureAD' | 'MSA' | 'Google';
export type GuestState = 'PendingAcceptance' | 'Accepted' | 'Disabled';

/*
 * One partition per guest (PartitionKey = `<tenantId>_<sha256(normalised email)>`)
 * holds the guest row, the guest's code-and-limits row, its sessions and its sign-in
 * log, so verify-code commits all of them in one entity-group transaction.
 */
export const GUEST_ROW = 'guest';
export const OTP_ROW = 'otp';
export const SESSION_PREFIX = 'session_';
export const LOG_PREFIX = 'log_';
/** `attempt_<handle>`: one sign-in attempt (send-code's handle), its two newest codes and its wrong tries. */
export const ATTEMPT_PREFIX = 'attempt_';
/** `address_<tag>`: what one client address did for this guest in the last hour. */
export const ADDRESS_PREFIX = 'address_';

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
  /** JSON list of the address tags this guest last signed in from (at most KNOWN_ADDRESSES). */
  knownAddresses?: string;
  /** JSON list of the digests of the devices this guest signed in from (at most KNOWN_DEVICES, lib/signin/familiarity.ts). */
  knownDevices?: string;
  /** Codes sent before this time (ms) are void: set by resetRedemption. */
  codesValidFrom?: number;
  /** When the lifecycle disabled the guest (state Disabled). */
  disabledAt?: string;
  /** JSON list of ms timestamps of invitation mails, for the per-guest resend limit. */
  inviteSendTimes?: string;
  /** false: sign-in blocked by an admin (Graph's accountEnabled); absent or true: may sign in. */
  accountEnabled?: boolean;
}

/**
 * The guest-wide row: send-code calls and wrong codes for this address from callers
 * that are not its own, in the last hour (the step-up ceiling), and the codes such
 * callers had compared on a UTC day (the per-guest guessing budget); for an address
 * that is not a guest, the sign-in method once resolved. The older fields
 * are written only by guest deletion and reset, which void through this row's ETag.
 */
export interface OtpEntity {
  strangerTimes?: string;
  /** The UTC day (YYYYMMDD) `guesses` counts. */
  guessDay?: string;
  guesses?: number;
  method?: string;
  codeHash?: string;
  codeExpiresAt?: number;
  codeAttempts?: number;
  sendTimes?: string;
  failTimes?: string;
  expiresAt: Date;
}

/** One code of an attempt: its hash, expiry and send time (ms). */
export interface AttemptCode {
  h: string;
  x: number;
  s: number;
}

export interface AttemptEntity {
  /** Tag of the client address that started the attempt. */
  address: string;
  /** JSON AttemptCode[]: the two newest codes, oldest first. */
  codes: string;
  /** JSON list of hashes already consumed, so a repeat is not counted as a wrong guess. */
  usedHashes: string;
  failures: number;
  lastSentAt: number;
  expiresAt: Date;
  /** Started past the guest-wide ceiling with a solved step-up: its verifications are not asked again. */
  steppedUp?: boolean;
}

export interface AddressEntity {
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
  /** Set when the lifecycle disables the guest: session-check answers guest_disabled. */
  disabled?: boolean;
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
  /** Graph's accountEnabled: false while an admin blocks the guest's sign-in. */
  accountEnabled: boolean;
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
    accountEnabled: row.accountEnabled !== false,
  };
}

export interface GuestPartition {
  partitionKey: string;
  guest?: TableEntityResult<GuestEntity>;
  otp?: TableEntityResult<OtpEntity>;
  /** The per-caller row this request is counted on (set by sign-in once it knows who the caller is). */
  address?: TableEntityResult<AddressEntity>;
  /** The per-caller rows read, by tag (`address_<tag>`). */
  pairs: Map<string, TableEntityResult<AddressEntity>>;
  attempt?: TableEntityResult<AttemptEntity>;
}

/**
 * One query reads the guest row, the guest-wide row, the caller's per-caller rows and,
 * given a handle, that attempt's row (or, given `newestAttemptOf`, that address's
 * newest attempt: attempt keys sort newest first).
 */
export async function readGuestPartition(
  rt: Runtime,
  tenantId: string,
  email: string,
  options: { pairTags?: string[]; attempt?: string; newestAttemptOf?: string } = {},
): Promise<GuestPartition> {
  const partitionKey = guestPartition(tenantId, email);
  const result: GuestPartition = { partitionKey, pairs: new Map() };
  const wanted = [GUEST_ROW, OTP_ROW];
  for (const tag of options.pairTags ?? []) wanted.push(ADDRESS_PREFIX + tag);
  if (options.attempt) wanted.push(ATTEMPT_PREFIX + options.attempt);
  const rowsWanted = wanted.map((key) => `RowKey eq '${escapeOData(key)}'`);
  // Without a handle: this address's attempts (a few at most), of which the first is the newest.
  if (options.newestAttemptOf) {
    rowsWanted.push(`(RowKey ge '${ATTEMPT_PREFIX}' and RowKey lt 'attempt\`' and address eq '${escapeOData(options.newestAttemptOf)}')`);
  }
  const rows = rt.tables.guests.listEntities<Record<string, unknown>>({
    queryOptions: { filter: `PartitionKey eq '${escapeOData(partitionKey)}' and (${rowsWanted.join(' or ')})` },
  });
  for await (const row of rows) {
    if (row.rowKey?.startsWith(ATTEMPT_PREFIX) && result.attempt) continue;
    // A guest row marked deleted (a delete cut short before its last step) is no guest.
    if (row.rowKey === GUEST_ROW) result.guest = row.deletedAt ? undefined : (row as unknown as TableEntityResult<GuestEntity>);
    else if (row.rowKey === OTP_ROW) result.otp = row as unknown as TableEntityResult<OtpEntity>;
    else if (row.rowKey?.startsWith(ADDRESS_PREFIX)) result.pairs.set(row.rowKey.slice(ADDRESS_PREFIX.length), row as unknown as TableEntityResult<AddressEntity>);
    else result.attempt = row as unknown as TableEntityResult<AttemptEntity>;
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
