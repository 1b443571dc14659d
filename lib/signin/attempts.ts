import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { signInView } from '../admin/guestAccess.js';
import { GuestpassError } from '../errors.js';
import {
  ADDRESS_PREFIX,
  ATTEMPT_PREFIX,
  GUEST_ROW,
  OTP_ROW,
  readGuestPartition,
  signInLogAction,
  type AddressEntity,
  type AttemptCode,
  type AttemptEntity,
  type GuestEntity,
  type GuestPartition,
  type SignInLogEntry,
} from '../guests/guests.js';
import { HOUR_MS, ipLimitKey, parseTimes, withinWindow, type AddressSlot, type PendingAddressEvent } from './limits.js';
import type { Runtime } from '../runtime.js';
import { candidatePairTags, familiarityOf, type Familiarity, type Shown } from './familiarity.js';
import { guestPartition, isStatus, isString, keyDigest, parseJsonList } from '../storage/tables.js';
import { noteExpiry } from '../storage/expiryIndex.js';
import { DAY_MS, dayStamp } from '../storage/dayTables.js';

/*
 * The rows a sign-in keeps in the guest's partition (an attempt and its codes, the
 * caller's row, the guest-wide row), how one request reads them as its caller and
 * commits its writes to them in one entity-group transaction, and the loop that reads
 * again when a concurrent request wrote first. send-code (sendCode.ts) and verify-code
 * (verifyCode.ts) are built of these.
 */

/** The codes of an attempt that stay valid: the newest two (a mail can arrive late). */
export const CODES_PER_ATTEMPT = 2;
/** How many guest-wide events from unfamiliar addresses the guest row keeps (beyond the ceiling they only repeat it). */
const STRANGER_TIMES_KEPT = 64;

export function generateCode(length: number): string {
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

/** HMAC-SHA256 under CODE_PEPPER over tenant, guest and code: the only form a code is stored in. */
export function hashCode(pepper: string, tenantId: string, guestId: string, code: string): string {
  return createHmac('sha256', pepper).update(`${tenantId}\n${guestId}\n${code}`).digest('base64url');
}

export function codesMatch(expectedHash: string, actualHash: string): boolean {
  const a = Buffer.from(expectedHash);
  const b = Buffer.from(actualHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The key-safe tag of a client address (IPv6 per /64), as the per-(guest, address) rows and known addresses hold it. */
export function addressTag(clientIp: string): string {
  return keyDigest(ipLimitKey(clientIp)).slice(0, 22);
}

/** A new attempt handle: sorts newest first (so the newest attempt of an address is one short query away), then 96 random bits. */
export function newAttemptHandle(now: number): string {
  return `${String(8_640_000_000_000_000 - now).padStart(16, '0')}${randomBytes(12).toString('base64url')}`;
}

/** An attempt's live codes (`codes`) as stored. */
export function attemptCodes(attempt: AttemptEntity | undefined): AttemptCode[] {
  return parseJsonList(attempt?.codes, (c): c is AttemptCode => typeof c === 'object' && c !== null);
}

/** The hashes of an attempt's codes once one of them signed in (`usedHashes`). */
export function usedHashes(attempt: AttemptEntity | undefined): string[] {
  return parseJsonList(attempt?.usedHashes, isString);
}

function isLostRace(error: unknown): boolean {
  return isStatus(error, 409, 412);
}

/** Guest-wide events from callers that are not the guest's own, in the last hour. */
export function strangerTimes(partition: GuestPartition, now: number): number[] {
  return withinWindow(parseTimes(partition.otp?.strangerTimes), now);
}

/** Codes compared today for this guest from callers that are not its own (the guessing bound). */
export function guessesToday(partition: GuestPartition, now: number): number {
  return partition.otp?.guessDay === dayStamp(now) ? (partition.otp.guesses ?? 0) : 0;
}

/**
 * The guest-wide row with one more event from a caller that is not the guest's own
 * (and, for a compared code, one more guess of the day), conditional on what was read
 * (or on its absence): of the calls that read it together exactly one writes, so the
 * step-up ceiling and the day's guesses are taken before the work they bound, and
 * never passed by a burst.
 */
export function strangerEventAction(partition: GuestPartition, now: number, compared: boolean): TransactionAction {
  const times = [...strangerTimes(partition, now), now].slice(-STRANGER_TIMES_KEPT);
  const guesses = guessesToday(partition, now) + (compared ? 1 : 0);
  const endOfDay = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  const entity = {
    partitionKey: partition.partitionKey,
    rowKey: OTP_ROW,
    strangerTimes: JSON.stringify(times),
    guessDay: dayStamp(now),
    guesses,
    expiresAt: new Date(Math.max(now + HOUR_MS, guesses > 0 ? endOfDay : 0, partition.otp?.expiresAt?.getTime() ?? 0)),
  };
  return partition.otp ? ['update', entity, 'Merge', { etag: partition.otp.etag }] : ['create', entity];
}

/** The caller's row for the guest, conditional on what was read (or on its absence). */
export function addressAction(partition: GuestPartition, tag: string, row: AddressEntity): TransactionAction {
  const entity = { partitionKey: partition.partitionKey, rowKey: ADDRESS_PREFIX + tag, ...row };
  return partition.address ? ['update', entity, 'Replace', { etag: partition.address.etag }] : ['create', entity];
}

/** The attempt's row: `changes` over the attempt as read, conditional on its ETag (or created when there was none). */
export function attemptAction(partitionKey: string, handle: string, read: TableEntityResult<AttemptEntity> | undefined, row: AttemptEntity): TransactionAction {
  const entity = { partitionKey, rowKey: ATTEMPT_PREFIX + handle, ...row };
  return read ? ['update', entity, 'Replace', { etag: read.etag }] : ['create', entity];
}

/** The attempt as read with some of its properties changed, written back conditional on its ETag. */
export function attemptChange(attempt: TableEntityResult<AttemptEntity>, partitionKey: string, changes: Partial<AttemptEntity>): TransactionAction {
  const { address, codes, usedHashes, failures, lastSentAt, expiresAt, steppedUp } = attempt;
  return attemptAction(partitionKey, attempt.rowKey!.slice(ATTEMPT_PREFIX.length), attempt, {
    ...{ address, codes, usedHashes, failures, lastSentAt, expiresAt, steppedUp: Boolean(steppedUp) },
    ...changes,
  });
}

/**
 * Commits one request's writes to the guest partition in one entity-group
 * transaction. A sign-in log row is added only for a real guest: a stranger's calls
 * leave nothing a person must see, and so never bury a guest's events. Either way it
 * is one transaction, so guests and strangers cost the same. The expiry index is noted
 * at the same time (a note for rows that did not come is harmless: cleanup finds nothing).
 */
export async function commit(rt: Runtime, partition: GuestPartition, actions: TransactionAction[], log: SignInLogEntry | undefined, firstExpiryMs: number): Promise<void> {
  const all = log && partition.guest ? [...actions, signInLogAction(rt, partition.partitionKey, log)] : actions;
  if (all.length === 0) return;
  // Cleanup finds the partition through the expiry index; it notes the partition again for what expires later.
  await Promise.all([rt.tables.guests.submitTransaction(all), noteExpiry(rt, partition.partitionKey, firstExpiryMs)]);
}

/** A sign-in request as this guest's partition sees it: the rows, and who the caller is to the guest. */
export interface CallerView {
  partition: GuestPartition;
  familiarity: Familiarity;
  /** The tag of the caller's own row: its device's or invitation's when it showed one, else its address's. */
  pairTag: string;
  addressTag: string;
}

/**
 * One query reads the guest's rows and the caller's; then who the caller is (DESIGN §4).
 * A guest whose sign-in an admin blocked is not there (signInView), so its address is
 * answered as a stranger's.
 */
export async function readAsCaller(
  rt: Runtime,
  tenantId: string,
  request: Shown & { email: string; clientIp: string; attempt?: string },
  withoutHandle: 'no attempt' | 'newest of its address',
): Promise<CallerView> {
  const tag = addressTag(request.clientIp);
  const attempt = request.attempt ? { attempt: request.attempt } : withoutHandle === 'newest of its address' ? { newestAttemptOf: tag } : {};
  const partition = signInView(await readGuestPartition(rt, tenantId, request.email, { pairTags: candidatePairTags(tag, request), ...attempt }));
  const { familiarity, pairTag } = familiarityOf(rt.config.code.pepper, partition.guest, tag, request);
  partition.address = partition.pairs.get(pairTag);
  return { partition, familiarity, pairTag, addressTag: tag };
}

/**
 * Who the caller is to the guest from point reads alone (the guest row, and the attempt
 * its handle names): what a call past a tenant ceiling needs to be held back, read the
 * cheapest way storage has (a flood's calls then never query a partition).
 */
export async function pointReadCaller(
  rt: Runtime,
  tenantId: string,
  request: Shown & { email: string; clientIp: string; attempt?: string },
): Promise<{ familiar: boolean; attempt?: AttemptEntity }> {
  const partitionKey = guestPartition(tenantId, request.email);
  const read = <T extends object>(rowKey: string) =>
    rt.tables.guests.getEntity<T>(partitionKey, rowKey).then(
      (row) => row as T,
      (error: unknown) => {
        if (isStatus(error, 404)) return undefined;
        throw error;
      },
    );
  const [guest, attempt] = await Promise.all([read<GuestEntity>(GUEST_ROW), request.attempt ? read<AttemptEntity>(ATTEMPT_PREFIX + request.attempt) : undefined]);
  const { familiarity } = familiarityOf(rt.config.code.pepper, signInView({ guest }).guest, addressTag(request.clientIp), request);
  return { familiar: familiarity !== undefined, attempt };
}

/** How often a call reads again after losing a race on a row it must write conditionally, before it gives up. */
const RACE_ROUNDS = 8;

/** What a request reserved that outlives one round of untilSettled. */
export interface Held {
  /** The client address's row, inserted while the partition was read, before anyone knew whether it must count. */
  pending?: PendingAddressEvent;
  /** The client address's slot of the hour (lib/signin/limits.ts): kept by a call that is counted, given back otherwise. */
  slot?: AddressSlot;
  countersTaken?: boolean;
}

/**
 * Runs `round` until it settles, reading again after each lost race (a short random
 * wait between); past RACE_ROUNDS the call is refused without a verdict. What a
 * round reserved that outlives it (the client address's slot) is kept in `held`:
 * kept when the call succeeds or is answered a wrong code, given back otherwise.
 */
export async function untilSettled<T>(round: (held: Held) => Promise<T | undefined>, refusal: () => GuestpassError): Promise<T> {
  const held: Held = {};
  try {
    for (let tries = 0; tries < RACE_ROUNDS; tries += 1) {
      if (tries > 0) await delay(5 + Math.random() * 20 * tries);
      const settled = await round(held);
      if (settled !== undefined) return settled;
    }
    throw refusal();
  } catch (error) {
    await held.pending?.release();
    if (!(error instanceof GuestpassError && error.code === 'invalid_code')) await held.slot?.release();
    throw error;
  }
}

/** Runs `write`; a lost race (another request wrote first) settles nothing: the round reads again. */
export async function unlessLostRace(write: () => Promise<void>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isLostRace(error)) return false;
    throw error;
  }
}

/** Awaits every one of `work`, then fails with the first failure: nothing a request started is left running unseen. */
export async function allSettledOrThrow(work: (Promise<unknown> | undefined)[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
