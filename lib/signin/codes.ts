import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { guestAccessRefusal, signInView } from '../admin/guestAccess.js';
import { fail, GuestpassError } from '../errors.js';
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
  type SignInSource,
} from '../guests/guests.js';
import { indexAfterChange, indexBeforeChange } from '../guests/guestIndex.js';
import {
  HOUR_MS,
  ipLimitKey,
  parseTimes,
  refuseFromMemory,
  reserveAddressEvent,
  secondsUntilRoom,
  withinWindow,
  type AddressSlot,
} from './limits.js';
import { newMailId } from '../mail/delivery.js';
import { queueCodeMail } from '../mail/queue.js';
import { codeMailSlot } from '../mail/send.js';
import type { Runtime } from '../runtime.js';
import { telemetry } from '../telemetry/telemetry.js';
import { emitEvent } from '../events/emit.js';
import { issueSession, type IssuedSession } from './sessions.js';
import { countWrongGuess, readGuessCounts, type GuessCounts } from './guessBudget.js';
import { candidatePairTags, familiarityOf, rememberSignIn, type Familiarity } from './familiarity.js';
import { checkStepUp, issueChallenge, stepUpCounter, type StepUpCheck } from './stepUp.js';
import { refuse } from './refusals.js';
import { unfamiliarSendSlot } from './unfamiliarSends.js';
import { resolveSignInMethod } from './signInMethod.js';
import { guestPartition, isStatus, keyDigest } from '../storage/tables.js';
import { noteExpiry } from '../storage/expiryIndex.js';
import { countTenantEvents, takeTenantCounters } from '../storage/tenantCounters.js';
import { DAY_MS, dayStamp, secondsUntilNextDay } from '../storage/dayTables.js';
import { resolveTenant, type TenantContext } from '../tenants/tenants.js';

export interface SendCodeRequest {
  tenant: string;
  email: string;
  locale?: string;
  /** The handle of the attempt to resend within; a new attempt starts without one. */
  attempt?: string;
  stepUp?: string;
  /** What the caller shows of its own (DESIGN §4): the device verify-code answered, the invitation value of its link. */
  device?: string;
  invitation?: string;
  clientIp: string;
}

export interface CodeSent {
  status: 'code_sent';
  expiresInSeconds: number;
  resendAfterSeconds: number;
  attempt: string;
}

export interface VerifyCodeRequest {
  tenant: string;
  email: string;
  code: string;
  attempt?: string;
  stepUp?: string;
  device?: string;
  invitation?: string;
  clientIp: string;
}

/** A sign-in: the session, and the device value the client keeps and shows with later calls. */
export interface SignedIn extends IssuedSession {
  device: string;
}
/** The codes of an attempt that stay valid: the newest two (a mail can arrive late). */
const CODES_PER_ATTEMPT = 2;
/** How many guest-wide events from unfamiliar addresses the guest row keeps (beyond the ceiling they only repeat it). */
const STRANGER_TIMES_KEPT = 64;

export function generateCode(length: number): string {
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

/** HMAC-SHA256 under CODE_PEPPER over tenant, guest and code: the only form a code is stored in. */
export function hashCode(pepper: string, tenantId: string, guestId: string, code: string): string {
  return createHmac('sha256', pepper).update(`${tenantId}\n${guestId}\n${code}`).digest('base64url');
}

function codesMatch(expectedHash: string, actualHash: string): boolean {
  const a = Buffer.from(expectedHash);
  const b = Buffer.from(actualHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The key-safe tag of a client address (IPv6 per /64), as the per-(guest, address) rows and known addresses hold it. */
export function addressTag(clientIp: string): string {
  return keyDigest(ipLimitKey(clientIp)).slice(0, 22);
}

/** A new attempt handle: sorts newest first (so the newest attempt of an address is one short query away), then 96 random bits. */
function newAttemptHandle(now: number): string {
  return `${String(8_640_000_000_000_000 - now).padStart(16, '0')}${randomBytes(12).toString('base64url')}`;
}

function parseJsonList<T>(json: string | undefined): T[] {
  try {
    const parsed = JSON.parse(json ?? '[]') as unknown;
    return Array.isArray(parsed) ? (parsed as T[]) : [];
  } catch {
    return [];
  }
}

function isLostRace(error: unknown): boolean {
  return isStatus(error, 409, 412);
}

/** Guest-wide events from callers that are not the guest's own, in the last hour. */
function strangerTimes(partition: GuestPartition, now: number): number[] {
  return withinWindow(parseTimes(partition.otp?.strangerTimes), now);
}

/** Codes compared today for this guest from callers that are not its own (the guessing bound). */
function guessesToday(partition: GuestPartition, now: number): number {
  return partition.otp?.guessDay === dayStamp(now) ? (partition.otp.guesses ?? 0) : 0;
}

/**
 * Past GUEST_STEP_UP_AFTER_PER_HOUR events from callers that are not the guest's own
 * (or while the tenant's or the deployment's wrong codes of the day are past their
 * ceiling), such a call must carry a solved step-up; otherwise it answers 428
 * challenge_required with a fresh challenge (and writes nothing). A solved step-up is
 * only checked here: the caller redeems it last (redeemStepUp), once nothing can refuse the call.
 */
async function requireStepUpPastCeiling(rt: Runtime, partition: GuestPartition, familiar: boolean, request: { stepUp?: string; clientIp: string }, surge = false): Promise<StepUpCheck | undefined> {
  if (familiar) return undefined;
  if (!surge && strangerTimes(partition, rt.now()).length < rt.config.limits.guestStepUpAfterPerHour) return undefined;
  // A request read again after a lost race: a step-up it already used still counts.
  if (redeemedBy.has(request)) return { redeem: async () => true };
  const check = request.stepUp ? await checkStepUp(rt, request.stepUp, request.clientIp) : undefined;
  if (check) return { redeem: async () => (await check.redeem()) && Boolean(redeemedBy.add(request)) };
  throw new GuestpassError('challenge_required', { extra: { challenge: await issueChallenge(rt) } });
}

/** The requests whose step-up is used up (by this request itself, before a lost race made it read again). */
const redeemedBy = new WeakSet<object>();

/** Uses up the request's step-up, the last step before its writes; one used meanwhile is asked for again. */
async function redeemStepUp(rt: Runtime, partition: GuestPartition, check: StepUpCheck | undefined): Promise<void> {
  if (!check) return;
  if (!(await check.redeem())) throw new GuestpassError('challenge_required', { extra: { challenge: await issueChallenge(rt) } });
  const tenantId = partition.partitionKey.split('_')[0]!;
  telemetry.count('stepUps', { 'tenant.id': tenantId, stage: 'solved' });
  // The hour's solved step-ups, beside the refusals in the tenant's counters: the sign-in summary shows them.
  await countTenantEvents(rt, tenantId, [stepUpCounter(rt.now())]);
}

/**
 * The guest-wide row with one more event from a caller that is not the guest's own
 * (and, for a compared code, one more guess of the day), conditional on what was read
 * (or on its absence): of the calls that read it together exactly one writes, so the
 * step-up ceiling and the day's guesses are taken before the work they bound, and
 * never passed by a burst.
 */
function strangerEventAction(partition: GuestPartition, now: number, compared: boolean): TransactionAction {
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
function addressAction(partition: GuestPartition, tag: string, row: AddressEntity): TransactionAction {
  const entity = { partitionKey: partition.partitionKey, rowKey: ADDRESS_PREFIX + tag, ...row };
  return partition.address ? ['update', entity, 'Replace', { etag: partition.address.etag }] : ['create', entity];
}

function attemptAction(partitionKey: string, handle: string, read: TableEntityResult<AttemptEntity> | undefined, row: AttemptEntity): TransactionAction {
  const entity = { partitionKey, rowKey: ATTEMPT_PREFIX + handle, ...row };
  return read ? ['update', entity, 'Replace', { etag: read.etag }] : ['create', entity];
}

/**
 * Commits one request's writes to the guest partition in one entity-group
 * transaction. A sign-in log row is added only for a real guest: a stranger's calls
 * leave nothing a person must see, and so never bury a guest's events. Either way it
 * is one transaction, so guests and strangers cost the same.
 */
async function commit(rt: Runtime, partition: GuestPartition, actions: TransactionAction[], log: SignInLogEntry | undefined, firstExpiryMs: number): Promise<void> {
  const all = log && partition.guest ? [...actions, signInLogAction(rt, partition.partitionKey, log)] : actions;
  if (all.length === 0) return;
  await rt.tables.guests.submitTransaction(all);
  // Cleanup finds the partition through the expiry index; it notes the partition again for what expires later.
  await noteExpiry(rt, partition.partitionKey, firstExpiryMs);
}

/** A sign-in request as this guest's partition sees it: the rows, and who the caller is to the guest. */
interface CallerView {
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
async function readAsCaller(rt: Runtime, tenantId: string, request: SendCodeRequest | VerifyCodeRequest, withoutHandle: 'no attempt' | 'newest of its address'): Promise<CallerView> {
  const tag = addressTag(request.clientIp);
  const attempt = request.attempt ? { attempt: request.attempt } : withoutHandle === 'newest of its address' ? { newestAttemptOf: tag } : {};
  const partition = signInView(await readGuestPartition(rt, tenantId, request.email, { pairTags: candidatePairTags(tag, request), ...attempt }));
  const { familiarity, pairTag } = familiarityOf(rt.config.code.pepper, partition.guest, tag, request);
  partition.address = partition.pairs.get(pairTag);
  return { partition, familiarity, pairTag, addressTag: tag };
}

/** How often a call reads again after losing a race on a row it must write conditionally, before it gives up. */
const RACE_ROUNDS = 8;

/**
 * Runs `round` until it settles, reading again after each lost race (a short random
 * wait between); past RACE_ROUNDS the call is refused without a verdict. What a
 * round reserved that outlives it (the client address's slot) is kept in `held`:
 * kept when the call succeeds or is answered a wrong code, given back otherwise.
 */
async function untilSettled<T>(round: (held: Held) => Promise<T | undefined>, refusal: () => GuestpassError): Promise<T> {
  const held: Held = {};
  try {
    for (let tries = 0; tries < RACE_ROUNDS; tries += 1) {
      if (tries > 0) await delay(5 + Math.random() * 20 * tries);
      const settled = await round(held);
      if (settled !== undefined) return settled;
    }
    throw refusal();
  } catch (error) {
    if (!(error instanceof GuestpassError && error.code === 'invalid_code')) await held.slot?.release();
    throw error;
  }
}

interface Held {
  slot?: AddressSlot;
  countersTaken?: boolean;
}

/**
 * send-code: admission (tenant, caller, step-up, cooldown and caps, each decided
 * before anything is written), then the attempt (one transaction in the guest
 * partition), then the queued mail. Every address, whatever it is to the tenant (a
 * guest, a disabled or blocked-domain or federated guest, a stranger), gets the same
 * 202 and the same reads and writes; a guest's code goes to its mailbox, and only a
 * correct code tells what stands in the way (verify-code). A stranger's queued mail
 * has no recipient, so the answer does not tell who is invited.
 */
export async function sendCode(rt: Runtime, request: SendCodeRequest): Promise<CodeSent> {
  // A caller showing a device or invitation may be the guest's own: its address's refusal is no answer to it.
  if (!request.device && !request.invitation) refuseFromMemory(rt, 'send-code', request.clientIp);
  const context = await resolveTenant(rt, request.tenant);
  // This address's cooldown or hour for this guest, once found full, is answered from memory.
  const memoryKey = (tag: string) => `send-code:${guestPartition(context.tenant.id, request.email)}:${tag}`;
  if (!request.device && !request.invitation) {
    const blocked = rt.earlyRejection.until(memoryKey(addressTag(request.clientIp)), rt.now());
    if (blocked) fail('rate_limited', { message: `Wait ${blocked} seconds before asking for another code.`, retryAfterSeconds: blocked });
  }
  return untilSettled(
    (held) => sendCodeOnce(rt, context, request, held, memoryKey),
    () => new GuestpassError('rate_limited', { message: 'Too many codes asked for this address at once. Try again in a moment.', retryAfterSeconds: 1 }),
  );
}

async function sendCodeOnce(rt: Runtime, context: TenantContext, request: SendCodeRequest, held: Held, memoryKey: (tag: string) => string): Promise<CodeSent | undefined> {
  const tenantId = context.tenant.id;
  const { code: codeConfig, limits } = rt.config;
  const { partition, familiarity, pairTag, addressTag: tag } = await readAsCaller(rt, tenantId, request, 'no attempt');
  const familiar = familiarity !== undefined;
  const guest = partition.guest;
  const log = (outcome: string): SignInLogEntry => ({ tenantId, guestId: guest?.guestId, event: 'send-code', outcome, clientIp: request.clientIp });

  // With OTP off for the tenant, the contract's answers: otp_disabled for a guest who
  // redeemed with OTP, what the address resolves to for anyone else.
  if (!context.otpEnabled) {
    if (guest) await requireOtpMethod(rt, context, partition, guest, log);
    else await answerLikeAnUnredeemedGuest(rt, context, partition, request.email);
  }

  // A step-up solved for an attempt holds for its codes: verify-code does not ask again.
  const stepUp = await requireStepUpPastCeiling(rt, partition, familiar, request);
  const steppedUp = Boolean(stepUp) || Boolean(resendingAttempt(partition)?.steppedUp);

  const now = rt.now();
  const sendTimes = withinWindow(parseTimes(partition.address?.sendTimes), now);
  const lastSend = Math.max(0, ...sendTimes);
  const cooldownLeft = Math.ceil((lastSend + codeConfig.resendCooldownSeconds * 1000 - now) / 1000);
  if (sendTimes.length > 0 && cooldownLeft > 0) {
    rt.earlyRejection.block(memoryKey(pairTag), now + cooldownLeft * 1000);
    fail('rate_limited', { message: `Wait ${cooldownLeft} seconds before asking for another code.`, retryAfterSeconds: cooldownLeft });
  }
  if (sendTimes.length >= limits.codesPerGuestPerHour) {
    const retryAfterSeconds = secondsUntilRoom(sendTimes, limits.codesPerGuestPerHour, now);
    rt.earlyRejection.block(memoryKey(pairTag), now + retryAfterSeconds * 1000);
    fail('rate_limited', { message: 'Too many codes were asked for this address in the last hour. Try again later.', retryAfterSeconds });
  }
  if (!held.countersTaken) {
    // Before anything is written, one write of the tenant's shared counters takes the
    // daily mail cap (a guest's mail counted; a caller that is not the guest's own
    // refused once it is full, the guest's own never) and the hour's codes for callers
    // that are not the guest's own.
    await takeTenantCounters(rt, tenantId, [await codeMailSlot(rt, context.tenant, Boolean(guest), familiar), unfamiliarSendSlot(rt, !familiar)]);
    held.countersTaken = true;
  }
  // The client address's hour, taken last: the guest's own callers are not held to it.
  if (!familiar) held.slot ??= await reserveAddressEvent(rt, 'send-code', request.clientIp, limits.sendCodePerIpPerHour);

  // An address that is not a guest gets a code too, hashed and stored like a real one
  // but never mailed: verify-code then takes the very same paths for both, and still
  // refuses it because there is no guest.
  const code = generateCode(codeConfig.length);
  // The sign-in log entry names the mail by this id; its delivery status is kept under it.
  const mailId = newMailId(now);
  const codeExpiresAt = now + codeConfig.ttlSeconds * 1000;
  const resending = resendingAttempt(partition) !== undefined;
  const handle = resending && request.attempt ? request.attempt : newAttemptHandle(now);
  const previous = resending ? parseJsonList<AttemptCode>(partition.attempt!.codes).filter((c) => c.x > now) : [];
  const newCode: AttemptCode = { h: hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, code), x: codeExpiresAt, s: now };
  const attempt: AttemptEntity = {
    address: resending ? partition.attempt!.address : tag,
    codes: JSON.stringify([...previous, newCode].slice(-CODES_PER_ATTEMPT)),
    usedHashes: '[]',
    // A resend never resets the attempt's wrong tries.
    failures: resending ? partition.attempt!.failures : 0,
    lastSentAt: now,
    expiresAt: new Date(codeExpiresAt),
    steppedUp,
  };
  const actions: TransactionAction[] = [
    attemptAction(partition.partitionKey, handle, resending ? partition.attempt : undefined, attempt),
    addressAction(partition, pairTag, {
      sendTimes: JSON.stringify([...sendTimes, now]),
      failTimes: partition.address?.failTimes ?? '[]',
      expiresAt: new Date(now + HOUR_MS),
    }),
  ];
  if (!familiar) actions.push(strangerEventAction(partition, now, false));
  // Nothing refuses the call past this point but a step-up used meanwhile.
  await redeemStepUp(rt, partition, stepUp);
  try {
    await commit(rt, partition, actions, { ...log('code_sent'), mailId }, codeExpiresAt);
  } catch (error) {
    // A concurrent call for this guest wrote first: read again and decide anew.
    if (isLostRace(error)) return undefined;
    throw error;
  }

  // Queued for every address alike, so neither the answer nor its timing tells who is
  // invited: a stranger's message has no recipient and the send-mail trigger drops it.
  // No provider is called here; its outages and refusals show in the mail's fate.
  await queueCodeMail(rt, { id: mailId, tenantId, notAfter: codeExpiresAt, content: { to: guest?.email ?? null, code, locale: request.locale } });
  return {
    status: 'code_sent',
    expiresInSeconds: codeConfig.ttlSeconds,
    resendAfterSeconds: codeConfig.resendCooldownSeconds,
    attempt: handle,
  };
}

/** The attempt a send-code resends within: the one its handle names, unless that was already used to sign in. */
function resendingAttempt(partition: GuestPartition): TableEntityResult<AttemptEntity> | undefined {
  const attempt = partition.attempt;
  return attempt && parseJsonList<string>(attempt.usedHashes).length === 0 ? attempt : undefined;
}

/** Why a guest whose method resolved to `resolved` cannot get a code, if it cannot. */
function methodRefusal(resolved: SignInSource | undefined): { outcome: string; error: GuestpassError } | undefined {
  if (!resolved) return { outcome: 'no_sign_in_method', error: new GuestpassError('no_sign_in_method') };
  if (resolved === 'OTP') return undefined;
  return { outcome: `other_method_${resolved}`, error: new GuestpassError('other_method_required', { extra: { method: resolved } }) };
}

/**
 * Fails unless this guest signs in with an email code: resolves the method at first
 * redemption and stores a non-OTP result, so it never changes by itself.
 */
async function requireOtpMethod(
  rt: Runtime,
  context: TenantContext,
  partition: GuestPartition,
  guest: TableEntityResult<GuestEntity>,
  log: (outcome: string) => SignInLogEntry,
  resolved?: SignInSource,
): Promise<void> {
  const source = guest.source ?? resolved ?? (await resolveSignInMethod(rt, context, guest.email));
  const refusal = methodRefusal(source);
  if (refusal && source && !guest.source) {
    // Counted as a stranger's first resolution is (answerLikeAnUnredeemedGuest), which the tenant's hour bounds.
    await takeTenantCounters(rt, context.tenant.id, [unfamiliarSendSlot(rt, true)]);
    try {
      // The listing index first (lib/guests/guestIndex.ts): the guest's rows under its source.
      await indexBeforeChange(rt, context.tenant.id, guest, { ...guest, source });
      await rt.tables.guests.submitTransaction([
        ['update', { partitionKey: partition.partitionKey, rowKey: GUEST_ROW, source }, 'Merge', { etag: guest.etag }],
        signInLogAction(rt, partition.partitionKey, log(refusal.outcome)),
      ]);
      // Its log row expires; a stranger's first resolution notes its row the same way.
      await noteExpiry(rt, partition.partitionKey, rt.now() + HOUR_MS);
    } catch (error) {
      // A concurrent request resolved (or an admin reset or deleted) the guest first; its answer stands.
      if (!isLostRace(error) && !isStatus(error, 404)) throw error;
    }
    throw refusal.error;
  }
  if (refusal) throw refusal.error;
  if (!context.otpEnabled) await refuse(rt, { ...log('otp_disabled'), partitionKey: partition.partitionKey, guest, otp: partition.otp }, 'otp_disabled', new GuestpassError('otp_disabled'));
}

/**
 * For an address that is not a guest, answers what a guest who never redeemed would
 * get from requireOtpMethod (409 for a Google or Microsoft address, 403 when no method
 * is left), with the same one write the first time (the resolved method, kept on the
 * guest-wide row as a guest keeps it on its row), so the answer does not tell who is invited.
 */
async function answerLikeAnUnredeemedGuest(rt: Runtime, context: TenantContext, partition: GuestPartition, email: string): Promise<void> {
  const stored = partition.otp?.method as SignInSource | undefined;
  const method = stored ?? (await resolveSignInMethod(rt, context, email));
  const refusal = methodRefusal(method);
  if (refusal && method && !stored) {
    // A row per address asked about: the tenant's hour of unfamiliar sends bounds how many.
    await takeTenantCounters(rt, context.tenant.id, [unfamiliarSendSlot(rt, true)]);
    const now = rt.now();
    const row = { partitionKey: partition.partitionKey, rowKey: OTP_ROW, method, expiresAt: new Date(now + HOUR_MS) };
    const write = () => rt.tables.guests.submitTransaction([['upsert', row, 'Merge']]);
    // Written twice: a guest's first resolution makes two writes before its log row's note,
    // its listing index rows (a transaction in the tenant's index partition) and its row,
    // and a stranger's answer costs the same.
    await write();
    await write();
    await noteExpiry(rt, partition.partitionKey, now + HOUR_MS);
  }
  if (refusal) throw refusal.error;
  // Counted for the tenant; a stranger gets no log row.
  if (!context.otpEnabled) await refuse(rt, { tenantId: context.tenant.id, event: 'send-code', clientIp: '' }, 'otp_disabled', new GuestpassError('otp_disabled'));
}

type Verification = { signedIn: SignedIn } | undefined;

/**
 * verify-code: checks the code against the attempt's live codes in constant time
 * and, when one matches, consumes the attempt, marks the guest redeemed and creates
 * the session in one entity-group transaction conditional on the attempt's, the
 * guest's and the caller's rows' ETags, so concurrent verifications of one code yield
 * exactly one session and no burst gets more verdicts than its budgets allow.
 *
 * Without an attempt handle, the newest attempt this client address started is
 * checked: a client that ignores the handle works as long as it verifies from the
 * address it asked from.
 *
 * A wrong code is answered only after it is counted (also conditional on the ETags).
 * A verification that loses the race to another one reads again and starts over;
 * otherwise an attacker could send guesses in parallel and have only one of each
 * batch counted against the limits. Only a correct code tells a guest what stands in
 * the way: disabled, a domain the organisation refuses, another sign-in method.
 */
export async function verifyCode(rt: Runtime, request: VerifyCodeRequest): Promise<SignedIn> {
  if (!request.device && !request.invitation) refuseFromMemory(rt, 'verify-fail', request.clientIp);
  const context = await resolveTenant(rt, request.tenant);
  // For guests and strangers alike, so the answer does not tell who is invited (counted for the tenant, logged for nobody).
  if (!context.otpEnabled) await refuse(rt, { tenantId: context.tenant.id, event: 'verify-code', clientIp: request.clientIp }, 'otp_disabled', new GuestpassError('otp_disabled'));
  return untilSettled(
    async (held) => (await attemptVerification(rt, context, request, held))?.signedIn,
    // Still losing after every retry: answer without telling whether this code was right.
    () => new GuestpassError('too_many_attempts', { message: 'Too many verifications at once for this address. Try again in a moment.', retryAfterSeconds: 1 }),
  );
}

async function attemptVerification(rt: Runtime, context: TenantContext, request: VerifyCodeRequest, held: Held): Promise<Verification> {
  const tenantId = context.tenant.id;
  const { code: codeConfig, limits } = rt.config;
  // A client that ignores the handle is checked against the newest attempt its own address started.
  const { partition, familiarity, pairTag, addressTag: tag } = await readAsCaller(rt, tenantId, request, 'newest of its address');
  const familiar = familiarity !== undefined;
  const guest = partition.guest;
  const { attempt } = partition;
  const now = rt.now();
  const log = (outcome: string): SignInLogEntry => ({ tenantId, guestId: guest?.guestId, event: 'verify-code', outcome, clientIp: request.clientIp });

  const failTimes = withinWindow(parseTimes(partition.address?.failTimes), now);
  if (failTimes.length >= limits.failedVerificationsPerGuestPerHour) {
    fail('too_many_attempts', {
      message: 'Too many wrong codes from this network for this address in the last hour. Try again later.',
      retryAfterSeconds: secondsUntilRoom(failTimes, limits.failedVerificationsPerGuestPerHour, now),
    });
  }
  // The guessing bound (SECURITY.md): codes compared for this guest today from callers that are not its own.
  if (!familiar && guessesToday(partition, now) >= limits.guestUnfamiliarGuessesPerDay) {
    fail('too_many_attempts', {
      message: 'Too many codes were tried for this address today from networks and devices it never signed in from. Sign in from one you used before, or try again tomorrow.',
      retryAfterSeconds: secondsUntilNextDay(now),
    });
  }
  // A surge of wrong codes at the tenant or the deployment slows callers that are not the guest's own (a step-up), never refuses them.
  const counts: GuessCounts | undefined = familiar ? undefined : await readGuessCounts(rt, tenantId);
  const stepUp = attempt?.steppedUp ? undefined : await requireStepUpPastCeiling(rt, partition, familiar, request, counts?.over);

  if (attempt && attempt.failures >= codeConfig.maxAttempts) {
    fail('too_many_attempts', { message: 'Too many wrong tries for this code. Ask for a new code.' });
  }
  const validFrom = guest ? Math.max(guest.codesValidFrom ?? 0, Date.parse(guest.invitedAt) || 0) : 0;
  const codes = parseJsonList<AttemptCode>(attempt?.codes);
  const live = codes.filter((c) => c.x > now && c.s >= validFrom);
  if (codes.length > 0 && live.length === 0 && codes.some((c) => c.x <= now)) fail('code_expired');
  // The client address's hour of wrong codes, taken before the code is compared (given back if it is right).
  if (!familiar) held.slot ??= await reserveAddressEvent(rt, 'verify-fail', request.clientIp, limits.failedVerificationsPerIpPerHour);

  const presented = hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, request.code);
  // Every live code is compared, so the time taken does not tell which matched.
  const matched = live.filter((c) => codesMatch(c.h, presented)).length > 0;
  telemetry.count('codesCompared', { 'tenant.id': tenantId, result: matched ? 'match' : 'wrong' });

  if (!matched && parseJsonList<string>(attempt?.usedHashes).some((h) => codesMatch(h, presented))) {
    // A code of this attempt that was just used, sent again (a double submit, or a
    // parallel one that lost): not a guess, so it is refused without counting.
    fail('invalid_code');
  }
  // What this verdict counts, conditional on the rows read: the caller's row (a wrong
  // code's time), and for a caller that is not the guest's own the guest-wide row (the day's guesses).
  const counted: TransactionAction[] = [
    addressAction(partition, pairTag, {
      sendTimes: partition.address?.sendTimes ?? '[]',
      failTimes: JSON.stringify(matched ? failTimes : [...failTimes, now]),
      expiresAt: new Date(now + HOUR_MS),
    }),
    ...(familiar ? [] : [strangerEventAction(partition, now, true)]),
  ];
  if (!matched || !guest || !attempt) {
    const actions = [...counted];
    if (attempt) {
      actions.push(attemptAction(partition.partitionKey, attempt.rowKey!.slice(ATTEMPT_PREFIX.length), attempt, {
        address: attempt.address,
        codes: attempt.codes,
        usedHashes: attempt.usedHashes,
        failures: attempt.failures + 1,
        lastSentAt: attempt.lastSentAt,
        expiresAt: attempt.expiresAt,
        steppedUp: Boolean(attempt.steppedUp),
      }));
    }
    try {
      await redeemStepUp(rt, partition, stepUp);
      await commit(rt, partition, actions, log('invalid_code'), now + HOUR_MS);
    } catch (error) {
      if (isLostRace(error)) return undefined;
      throw error;
    }
    // The tenant's surge signal, not a budget: a storage fault here must not turn a counted verdict into a 503.
    if (counts) await countWrongGuess(rt, tenantId, counts).catch(() => undefined);
    fail('invalid_code');
  }

  // The code is right. Only now may the answer tell what stands in the way: the
  // verdict is counted first, like any other, then the guest is told.
  const barred = guestAccessRefusal(context, guest.email, guest);
  // A guest who never redeemed resolves its method now (Google, Microsoft, OTP); one that is not OTP is told so, and keeps it.
  const method = guest.source ?? (await resolveSignInMethod(rt, context, guest.email));
  if (barred || method !== 'OTP') {
    try {
      await redeemStepUp(rt, partition, stepUp);
      await commit(rt, partition, counted, undefined, now + HOUR_MS);
    } catch (error) {
      if (isLostRace(error)) return undefined;
      throw error;
    }
    await held.slot?.release();
    held.slot = undefined;
    if (barred) await refuse(rt, { ...log(barred.outcome), partitionKey: partition.partitionKey, guest, otp: partition.otp }, barred.outcome, barred.error);
    await requireOtpMethod(rt, context, partition, guest, log, method);
  }

  const redeemedAt = new Date(now).toISOString();
  const { action, session } = issueSession(rt, tenantId, { id: guest.guestId, email: guest.email, displayName: guest.displayName, source: 'OTP' });
  const remembered = rememberSignIn(guest, tag, request);
  const actions: TransactionAction[] = [
    ...counted,
    // The whole attempt is consumed: its other code cannot be used after this one.
    attemptAction(partition.partitionKey, attempt.rowKey!.slice(ATTEMPT_PREFIX.length), attempt, {
      address: attempt.address,
      codes: '[]',
      usedHashes: JSON.stringify(codes.map((c) => c.h)),
      failures: attempt.failures,
      lastSentAt: attempt.lastSentAt,
      expiresAt: attempt.expiresAt,
      steppedUp: Boolean(attempt.steppedUp),
    }),
    [
      'update',
      {
        partitionKey: partition.partitionKey,
        rowKey: GUEST_ROW,
        state: 'Accepted',
        source: 'OTP',
        redeemedAt: guest.redeemedAt ?? redeemedAt,
        lastSignInAt: redeemedAt,
        knownAddresses: remembered.knownAddresses,
        knownDevices: remembered.knownDevices,
      },
      'Merge',
      // The guest row as read: a guest deleted or reset meanwhile gets no session.
      { etag: guest.etag },
    ],
    action,
  ];
  // At first redemption (or the first after a reset) the guest's state and source change,
  // and its listing index rows with them (lib/guests/guestIndex.ts): the new rows before
  // the guest row, the old ones after. A sign-in of a guest who redeemed writes no index row.
  const indexed = { email: guest.email, state: 'Accepted', source: 'OTP' } as const;
  const reindex = guest.state !== indexed.state || guest.source !== indexed.source;
  const indexChange = reindex ? await indexBeforeChange(rt, tenantId, guest, indexed) : undefined;
  try {
    await redeemStepUp(rt, partition, stepUp);
    await commit(rt, partition, actions, log('signed_in'), attempt.expiresAt.getTime());
  } catch (error) {
    // Another verification changed the attempt first (consumed it, or recorded a
    // failure), or the guest changed: read again and decide anew.
    if (isLostRace(error)) return undefined;
    if (isStatus(error, 404)) fail('invalid_code');
    throw error;
  }
  // A right code is no wrong one: the client address's slot goes back.
  await held.slot?.release();
  held.slot = undefined;
  if (indexChange) await indexAfterChange(rt, indexChange);
  if (!guest.redeemedAt) await emitEvent(rt, tenantId, 'guest.redeemed', { guestId: guest.guestId });
  return { signedIn: { ...session, device: remembered.device } };
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

