import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
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
} from './guests.js';
import { HOUR_MS, countSendCodeFromIp, parseTimes, secondsUntilRoom, withinWindow } from './limits.js';
import { renderCodeMail } from './mailTemplates.js';
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
): Promise<void> {
  const entity = { partitionKey: partition.partitionKey, rowKey: OTP_ROW, ...otp };
  const write: TransactionAction = partition.otp
    ? ['update', entity, 'Replace', { etag: partition.otp.etag }]
    : ['create', entity];
  await rt.tables.guests.submitTransaction([write, ...extra, signInLogAction(rt, partition.partitionKey, log)]);
}

/** Another request changed the partition first: a conflicting create, a changed ETag, or a row an admin deleted. */
function isLostRace(error: unknown): boolean {
  return isStatus(error, 404, 409, 412);
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

  const code = generateCode(codeConfig.length);
  const codeHash = hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, code);
  const codeExpiresAt = now + codeConfig.ttlSeconds * 1000;
  const otp: OtpEntity = {
    // Only a guest gets a usable code. For anyone else the row still opens a code period
    // (no hash), so guessing costs and answers the same whether the address is invited.
    codeHash: guest ? codeHash : '',
    codeExpiresAt,
    codeAttempts: 0,
    sendTimes: JSON.stringify([...sendTimes, now]),
    failTimes: partition.otp?.failTimes ?? '[]',
    expiresAt: otpExpiry(now, codeExpiresAt),
  };
  try {
    await commitOtp(rt, partition, otp, log(guest ? 'code_sent' : 'not_a_guest'));
  } catch (error) {
    if (isLostRace(error)) fail('rate_limited', { retryAfterSeconds: codeConfig.resendCooldownSeconds });
    throw error;
  }

  if (!guest) {
    await delay(rt.mailLatency.sample());
    return accepted;
  }
  const started = performance.now();
  try {
    await rt.mailer.send({
      to: guest.email,
      kind: 'code',
      tenantId,
      ...renderCodeMail({
        code,
        tenantDisplayName: context.tenant.displayName,
        validMinutes: Math.round(codeConfig.ttlSeconds / 60),
        locale: request.locale,
      }),
    });
    rt.mailLatency.record(performance.now() - started);
  } catch (error) {
    await withdrawCode(rt, partition.partitionKey, partition.otp?.sendTimes ?? '[]');
    throw error instanceof GuestpassError ? error : new GuestpassError('email_failed', { cause: error });
  }
  return accepted;
}

/**
 * After a failed mail, the code just written must not be usable, and the failed
 * send should not hold the guest back: the send is taken off the history.
 */
async function withdrawCode(rt: Runtime, partitionKey: string, previousSendTimes: string): Promise<void> {
  await rt.tables.guests.updateEntity(
    { partitionKey, rowKey: OTP_ROW, codeHash: '', codeExpiresAt: 0, sendTimes: previousSendTimes },
    'Merge',
  );
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
  let source = guest.source;
  if (!source) {
    const resolved = await resolveSignInMethod(rt, context, guest.email);
    if (!resolved) await refuse(rt, partition.partitionKey, log('no_sign_in_method'), new GuestpassError('no_sign_in_method'));
    if (resolved !== 'OTP') {
      try {
        await rt.tables.guests.submitTransaction([
          ['update', { partitionKey: partition.partitionKey, rowKey: GUEST_ROW, source: resolved }, 'Merge', { etag: guest.etag }],
          signInLogAction(rt, partition.partitionKey, log(`other_method_${resolved}`)),
        ]);
      } catch (error) {
        // A concurrent request resolved (or an admin reset) the guest first; its answer stands.
        if (!isLostRace(error)) throw error;
      }
      fail('other_method_required', { extra: { method: resolved } });
    }
    source = resolved;
  }
  if (source !== 'OTP') {
    await refuse(rt, partition.partitionKey, log(`other_method_${source}`), new GuestpassError('other_method_required', { extra: { method: source } }));
  }
  if (!context.otpEnabled) await refuse(rt, partition.partitionKey, log('otp_disabled'), new GuestpassError('otp_disabled'));
}

/**
 * verify-code: checks the newest code in constant time and, when it matches,
 * consumes it, marks the guest redeemed and creates the session in one
 * entity-group transaction that is conditional on the code row's ETag, so
 * concurrent verifications of one code yield exactly one session.
 */
export async function verifyCode(rt: Runtime, request: VerifyCodeRequest): Promise<IssuedSession> {
  const context = await resolveTenant(rt, request.tenant);
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
  if (guest && !context.otpEnabled) await refuse(rt, partition.partitionKey, log('otp_disabled'), new GuestpassError('otp_disabled'));
  // A code period is open from a send until the code expires or is consumed. Only
  // guesses inside one count as failures: with no code to guess there is nothing to
  // protect, and a double-submitted form must not lock the guest out.
  const codeOpen = Boolean(otp && otp.codeExpiresAt && otp.codeExpiresAt > 0);
  if (otp && codeOpen && otp.codeAttempts >= codeConfig.maxAttempts) {
    await refuse(rt, partition.partitionKey, log('too_many_attempts'), new GuestpassError('too_many_attempts', {
      message: 'Too many wrong tries for this code. Ask for a new code.',
    }));
  }
  if (otp && codeOpen && otp.codeExpiresAt! <= now) {
    await refuse(rt, partition.partitionKey, log('code_expired'), new GuestpassError('code_expired'));
  }

  const presented = hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, request.code);
  const matches = Boolean(guest && otp?.codeHash && codesMatch(otp.codeHash, presented));

  if (!matches || !guest || !otp) {
    if (!otp || !codeOpen) await refuse(rt, partition.partitionKey, log('invalid_code'), new GuestpassError('invalid_code'));
    const record: OtpEntity = {
      codeHash: otp!.codeHash ?? '',
      codeExpiresAt: otp!.codeExpiresAt,
      codeAttempts: otp!.codeAttempts + 1,
      sendTimes: otp!.sendTimes,
      failTimes: JSON.stringify([...failTimes, now]),
      expiresAt: otpExpiry(now, otp!.codeExpiresAt),
    };
    try {
      await commitOtp(rt, partition, record, log('invalid_code'));
    } catch (error) {
      if (!isLostRace(error)) throw error;
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
  ];
  try {
    await commitOtp(rt, partition, consumed, log('signed_in'), [guestUpdate, action]);
  } catch (error) {
    // Another verification consumed this code first.
    if (isLostRace(error)) fail('invalid_code');
    throw error;
  }
  return session;
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
