import { createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { fail, GuestpassError } from './errors.js';
import {
  GUEST_ROW,
  OTP_ROW,
  readGuestPartition,
  signInLogAction,
  type GuestEntity,
  type GuestPartition,
  type OtpEntity,
  type SignInLogEntry,
  type SignInSource,
} from './guests.js';
import { HOUR_MS, countSendCodeFromIp, parseTimes, secondsUntilRoom, withinWindow } from './limits.js';
import { sendCodeMail, sendNoCodeMail } from './mail/send.js';
import type { Runtime } from './runtime.js';
import { issueSession, type IssuedSession } from './sessions.js';
import { resolveSignInMethod } from './signInMethod.js';
import { isStatus } from './storage.js';
import { resolveTenant, type TenantContext } from './tenants.js';

export interface SendCodeRequest {
  tenant: string;
  email: string;
  locale?: string;
  clientIp: string;
}

export interface CodeSent {
  status: 'code_sent';
  expiresInSeconds: number;
  resendAfterSeconds: number;
}

export interface VerifyCodeRequest {
  tenant: string;
  email: string;
  code: string;
  clientIp: string;
}

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

function otpExpiry(now: number, codeExpiresAt: number | undefined): Date {
  return new Date(Math.max(now + HOUR_MS, codeExpiresAt ?? 0));
}

/** Writes the code row (conditionally on its ETag) and the log entry in one entity-group transaction. */
async function commitOtp(
  rt: Runtime,
  partition: GuestPartition,
  otp: OtpEntity,
  log: SignInLogEntry,
  extra: TransactionAction[] = [],
): Promise<string | undefined> {
  const entity = { partitionKey: partition.partitionKey, rowKey: OTP_ROW, ...otp };
  const write: TransactionAction = partition.otp
    ? ['update', entity, 'Replace', { etag: partition.otp.etag }]
    : ['create', entity];
  const response = await rt.tables.guests.submitTransaction([write, ...extra, signInLogAction(rt, partition.partitionKey, log)]);
  return response.subResponses.find((sub) => sub.rowKey === OTP_ROW)?.etag;
}

function isLostRace(error: unknown): boolean {
  return isStatus(error, 409, 412);
}

/** Records an outcome that writes nothing else, then fails with it. */
async function refuse(rt: Runtime, partitionKey: string, log: SignInLogEntry, error: GuestpassError): Promise<never> {
  await rt.tables.guests.submitTransaction([signInLogAction(rt, partitionKey, log)]);
  throw error;
}

/**
 * send-code. For an address that is not a guest it does the same reads and writes
 * and waits about as long as a real mail takes, but sends nothing, so the answer does
 * not tell who is invited.
 */
export async function sendCode(rt: Runtime, request: SendCodeRequest): Promise<CodeSent> {
  const context = await resolveTenant(rt, request.tenant);
  const tenantId = context.tenant.id;
  const { code: codeConfig, limits } = rt.config;
  const accepted: CodeSent = {
    status: 'code_sent',
    expiresInSeconds: codeConfig.ttlSeconds,
    resendAfterSeconds: codeConfig.resendCooldownSeconds,
  };

  const partition = await readGuestPartition(rt, tenantId, request.email);
  const guest = partition.guest;
  const log = (outcome: string): SignInLogEntry => ({
    tenantId,
    guestId: guest?.guestId,
    event: 'send-code',
    outcome,
    clientIp: request.clientIp,
  });

  try {
    await countSendCodeFromIp(rt, request.clientIp);
  } catch (error) {
    if (error instanceof GuestpassError) await refuse(rt, partition.partitionKey, log('rate_limited_ip'), error);
    throw error;
  }

  if (guest) await requireOtpMethod(rt, context, partition, guest, log);
  else await answerLikeAnUnredeemedGuest(rt, context, partition.partitionKey, request.email, log);

  const now = rt.now();
  const sendTimes = withinWindow(parseTimes(partition.otp?.sendTimes), now);
  const lastSend = Math.max(0, ...sendTimes);
  const cooldownLeft = Math.ceil((lastSend + codeConfig.resendCooldownSeconds * 1000 - now) / 1000);
  if (sendTimes.length > 0 && cooldownLeft > 0) {
    await refuse(rt, partition.partitionKey, log('rate_limited'), new GuestpassError('rate_limited', {
      message: `Wait ${cooldownLeft} seconds before asking for another code.`,
      retryAfterSeconds: cooldownLeft,
    }));
  }
  if (sendTimes.length >= limits.codesPerGuestPerHour) {
    await refuse(rt, partition.partitionKey, log('rate_limited'), new GuestpassError('rate_limited', {
      message: 'Too many codes were asked for this address in the last hour. Try again later.',
      retryAfterSeconds: secondsUntilRoom(sendTimes, limits.codesPerGuestPerHour, now),
    }));
  }

  // An address that is not a guest gets a code too, hashed and stored like a real one
  // but never mailed: verify-code then takes the very same paths (attempts, expiry)
  // for both, and still refuses it because there is no guest.
  const code = generateCode(codeConfig.length);
  const mailId = randomUUID();
  const codeHash = hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, code);
  const codeExpiresAt = now + codeConfig.ttlSeconds * 1000;
  const otp: OtpEntity = {
    codeHash,
    codeExpiresAt,
    codeAttempts: 0,
    sendTimes: JSON.stringify([...sendTimes, now]),
    failTimes: partition.otp?.failTimes ?? '[]',
    expiresAt: otpExpiry(now, codeExpiresAt),
  };
  let otpEtag: string | undefined;
  try {
    otpEtag = await commitOtp(rt, partition, otp, guest ? { ...log('code_sent'), mailId } : log('not_a_guest'));
  } catch (error) {
    // A concurrent send-code for the same address wrote first: that one counts.
    if (isLostRace(error)) {
      await refuse(rt, partition.partitionKey, log('rate_limited'), new GuestpassError('rate_limited', {
        retryAfterSeconds: Math.max(1, codeConfig.resendCooldownSeconds),
      }));
    }
    throw error;
  }

  if (!guest) {
    // The same cap check and storage writes as a mail, then as long as the provider
    // would take, so neither the answer nor its timing tells who is invited.
    await sendNoCodeMail(rt, context.tenant);
    await delay(rt.mailLatency.sample());
    return accepted;
  }
  try {
    await sendCodeMail(rt, context.tenant, { mailId, to: guest.email, code, locale: request.locale });
  } catch (error) {
    const failure = error instanceof GuestpassError ? error : new GuestpassError('email_failed', { cause: error });
    // email_failed, or mail_cap_reached when the tenant's daily cap is full.
    await withdrawCode(rt, partition.partitionKey, otpEtag, partition.otp?.sendTimes ?? '[]', log(failure.code));
    throw failure;
  }
  return accepted;
}

/**
 * After a failed mail, the code just written must not be usable, and the failed
 * send should not hold the guest back: the send is taken off the history. The
 * write is conditional on the code row still being ours (a newer send-code has
 * already replaced the code otherwise) and carries the log entry.
 */
async function withdrawCode(rt: Runtime, partitionKey: string, etag: string | undefined, previousSendTimes: string, log: SignInLogEntry): Promise<void> {
  const withdrawn = { partitionKey, rowKey: OTP_ROW, codeHash: '', codeExpiresAt: 0, sendTimes: previousSendTimes };
  try {
    await rt.tables.guests.submitTransaction([
      ['update', withdrawn, 'Merge', { etag: etag ?? '*' }],
      signInLogAction(rt, partitionKey, log),
    ]);
  } catch (error) {
    if (!isLostRace(error)) throw error;
    await rt.tables.guests.submitTransaction([signInLogAction(rt, partitionKey, log)]);
  }
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
): Promise<void> {
  const source = guest.source ?? (await resolveSignInMethod(rt, context, guest.email));
  const refusal = methodRefusal(source);
  if (refusal && source && !guest.source) {
    try {
      await rt.tables.guests.submitTransaction([
        ['update', { partitionKey: partition.partitionKey, rowKey: GUEST_ROW, source }, 'Merge', { etag: guest.etag }],
        signInLogAction(rt, partition.partitionKey, log(refusal.outcome)),
      ]);
    } catch (error) {
      // A concurrent request resolved (or an admin reset or deleted) the guest first; its answer stands.
      if (!isLostRace(error) && !isStatus(error, 404)) throw error;
    }
    throw refusal.error;
  }
  if (refusal) await refuse(rt, partition.partitionKey, log(refusal.outcome), refusal.error);
  if (!context.otpEnabled) await refuse(rt, partition.partitionKey, log('otp_disabled'), new GuestpassError('otp_disabled'));
}

/**
 * For an address that is not a guest, answers what a guest who never redeemed would
 * get from requireOtpMethod (409 for a Google or Microsoft address, 403 when no
 * method is left), with the same one write, so the answer does not tell who is invited.
 */
async function answerLikeAnUnredeemedGuest(
  rt: Runtime,
  context: TenantContext,
  partitionKey: string,
  email: string,
  log: (outcome: string) => SignInLogEntry,
): Promise<void> {
  const refusal = methodRefusal(await resolveSignInMethod(rt, context, email));
  if (refusal) await refuse(rt, partitionKey, log(refusal.outcome), refusal.error);
}

/** How often verify-code reads again after losing a race on the code row before it gives up. */
const VERIFY_ATTEMPTS = 8;

type Verification = { session: IssuedSession } | { lostRace: GuestPartition; guestId?: string };

/**
 * verify-code: checks the newest code in constant time and, when it matches,
 * consumes it, marks the guest redeemed and creates the session in one
 * entity-group transaction that is conditional on the code row's ETag, so
 * concurrent verifications of one code yield exactly one session.
 *
 * A wrong code is answered only after its failure is recorded (also conditional on
 * the ETag). A verification that loses the race to another one reads the row again
 * and starts over; otherwise an attacker could send guesses in parallel and have
 * only one of each batch counted against the limits.
 */
export async function verifyCode(rt: Runtime, request: VerifyCodeRequest): Promise<IssuedSession> {
  const context = await resolveTenant(rt, request.tenant);
  let outcome: Verification | undefined;
  for (let attempt = 0; attempt < VERIFY_ATTEMPTS; attempt += 1) {
    if (attempt > 0) await delay(5 + Math.random() * 20 * attempt);
    outcome = await attemptVerification(rt, context, request);
    if ('session' in outcome) return outcome.session;
  }
  // Still losing after every retry: answer without telling whether this code was right.
  const lost = outcome as Extract<Verification, { lostRace: GuestPartition }>;
  return refuse(
    rt,
    lost.lostRace.partitionKey,
    { tenantId: context.tenant.id, guestId: lost.guestId, event: 'verify-code', outcome: 'too_many_attempts', clientIp: request.clientIp },
    new GuestpassError('too_many_attempts', { message: 'Too many verifications at once for this address. Try again in a moment.', retryAfterSeconds: 1 }),
  );
}

async function attemptVerification(rt: Runtime, context: TenantContext, request: VerifyCodeRequest): Promise<Verification> {
  const tenantId = context.tenant.id;
  const { code: codeConfig, limits } = rt.config;
  const partition = await readGuestPartition(rt, tenantId, request.email);
  const { guest, otp } = partition;
  const now = rt.now();
  const log = (outcome: string): SignInLogEntry => ({
    tenantId,
    guestId: guest?.guestId,
    event: 'verify-code',
    outcome,
    clientIp: request.clientIp,
  });

  const failTimes = withinWindow(parseTimes(otp?.failTimes), now);
  if (failTimes.length >= limits.failedVerificationsPerGuestPerHour) {
    await refuse(rt, partition.partitionKey, log('too_many_attempts'), new GuestpassError('too_many_attempts', {
      message: 'Too many wrong codes in the last hour. Try again later.',
      retryAfterSeconds: secondsUntilRoom(failTimes, limits.failedVerificationsPerGuestPerHour, now),
    }));
  }
  if (guest && guest.source && guest.source !== 'OTP') {
    await refuse(rt, partition.partitionKey, log(`other_method_${guest.source}`), new GuestpassError('other_method_required', { extra: { method: guest.source } }));
  }
  // For guests and strangers alike, so the answer does not tell who is invited.
  if (!context.otpEnabled) await refuse(rt, partition.partitionKey, log('otp_disabled'), new GuestpassError('otp_disabled'));
  if (otp?.codeHash && otp.codeAttempts >= codeConfig.maxAttempts) {
    await refuse(rt, partition.partitionKey, log('too_many_attempts'), new GuestpassError('too_many_attempts', {
      message: 'Too many wrong tries for this code. Ask for a new code.',
    }));
  }
  if (otp?.codeHash && otp.codeExpiresAt !== undefined && otp.codeExpiresAt <= now) {
    await refuse(rt, partition.partitionKey, log('code_expired'), new GuestpassError('code_expired'));
  }

  const presented = hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, request.code);
  const matches = Boolean(otp?.codeHash && codesMatch(otp.codeHash, presented));

  if (!matches && otp?.usedCodeHash && codesMatch(otp.usedCodeHash, presented)) {
    // The code that was just used, sent again (a double submit, or a parallel one that
    // lost): not a guess, so it is refused without counting against the guest.
    await refuse(rt, partition.partitionKey, log('code_already_used'), new GuestpassError('invalid_code'));
  }
  if (!matches || !guest || !otp) {
    const record: OtpEntity = {
      codeHash: otp?.codeHash ?? '',
      usedCodeHash: otp?.usedCodeHash ?? '',
      codeExpiresAt: otp?.codeExpiresAt ?? 0,
      codeAttempts: (otp?.codeAttempts ?? 0) + 1,
      sendTimes: otp?.sendTimes ?? '[]',
      failTimes: JSON.stringify([...failTimes, now]),
      expiresAt: otpExpiry(now, otp?.codeExpiresAt),
    };
    try {
      await commitOtp(rt, partition, record, log('invalid_code'));
    } catch (error) {
      if (isLostRace(error)) return { lostRace: partition, guestId: guest?.guestId };
      throw error;
    }
    fail('invalid_code');
  }

  const redeemedAt = new Date(now).toISOString();
  const { action, session } = issueSession(rt, tenantId, {
    id: guest.guestId,
    email: guest.email,
    displayName: guest.displayName,
    source: 'OTP',
  });
  const consumed: OtpEntity = {
    codeHash: '',
    usedCodeHash: otp.codeHash,
    codeExpiresAt: 0,
    codeAttempts: 0,
    sendTimes: otp.sendTimes,
    failTimes: JSON.stringify(failTimes),
    expiresAt: otpExpiry(now, undefined),
  };
  const guestUpdate: TransactionAction = [
    'update',
    {
      partitionKey: partition.partitionKey,
      rowKey: GUEST_ROW,
      state: 'Accepted',
      source: 'OTP',
      redeemedAt: guest.redeemedAt ?? redeemedAt,
      lastSignInAt: redeemedAt,
    },
    'Merge',
    // The guest row as read: a guest deleted meanwhile gets no session.
    { etag: guest.etag },
  ];
  try {
    await commitOtp(rt, partition, consumed, log('signed_in'), [guestUpdate, action]);
  } catch (error) {
    // Another verification changed the code row first (consumed the code, or recorded
    // a failure): read again and decide anew.
    if (isLostRace(error)) return { lostRace: partition, guestId: guest.guestId };
    if (isStatus(error, 404)) fail('invalid_code');
    throw error;
  }
  return { session };
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
