import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { fail, GuestpassError } from '../errors.js';
import type { AttemptCode, AttemptEntity, GuestPartition, SignInLogEntry } from '../guests/guests.js';
import { newMailId } from '../mail/delivery.js';
import { queueCodeMail } from '../mail/queue.js';
import { codeMailSlot } from '../mail/send.js';
import type { Runtime } from '../runtime.js';
import { dayTable } from '../storage/dayTables.js';
import { guestPartition } from '../storage/tables.js';
import { knownFull, prepareTenantCounters, takeTenantCounters } from '../storage/tenantCounters.js';
import { resolveTenant, type TenantContext } from '../tenants/tenants.js';
import { asCallOf, checkStepUpEarly, redeemStepUp, requireStepUpPastCeiling, settleAddressSlot, showsNothing, startAddressSlot } from './admission.js';
import {
  addressAction,
  addressTag,
  allSettledOrThrow,
  attemptAction,
  attemptCodes,
  CODES_PER_ATTEMPT,
  commit,
  generateCode,
  hashCode,
  newAttemptHandle,
  pointReadCaller,
  readAsCaller,
  strangerEventAction,
  unlessLostRace,
  untilSettled,
  usedHashes,
  type Held,
} from './attempts.js';
import { HOUR_MS, parseTimes, refuseFromMemory, secondsUntilRoom, withinWindow } from './limits.js';
import { answerLikeAnUnredeemedGuest, requireOtpMethod } from './signInMethod.js';
import { unfamiliarSendSlot } from './unfamiliarSends.js';

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
  if (showsNothing(request)) refuseFromMemory(rt, 'send-code', request.clientIp);
  const context = await resolveTenant(rt, request.tenant);
  // This address's cooldown or hour for this guest, once found full, is answered from memory.
  const memoryKey = (tag: string) => `send-code:${guestPartition(context.tenant.id, request.email)}:${tag}`;
  if (showsNothing(request)) {
    const blocked = rt.earlyRejection.until(memoryKey(addressTag(request.clientIp)), rt.now());
    if (blocked) fail('rate_limited', { message: `Wait ${blocked} seconds before asking for another code.`, retryAfterSeconds: blocked });
  }
  return asCallOf('send-code', request.clientIp, () =>
    untilSettled(
      (held) => sendCodeOnce(rt, context, request, held, memoryKey),
      () => new GuestpassError('rate_limited', { message: 'Too many codes asked for this address at once. Try again in a moment.', retryAfterSeconds: 1 }),
    ),
  );
}

async function sendCodeOnce(rt: Runtime, context: TenantContext, request: SendCodeRequest, held: Held, memoryKey: (tag: string) => string): Promise<CodeSent | undefined> {
  const tenantId = context.tenant.id;
  const { code: codeConfig, limits } = rt.config;

  // Admission. The partition's read goes out with what needs no verdict of it: the
  // address's row (for a caller that shows nothing of its own), the step-up's check,
  // the tenant counters' read when this instance's is stale (and a lease of the tenant's
  // hour when this instance has no room left in it), and the day tables the
  // writes will need (created once a day per instance).
  const tenantHourFull = knownFull(rt, tenantId, [unfamiliarSendSlot(rt, true)]);
  // Past the tenant's hour, a caller that is not the guest's own is refused after point reads (a flood's calls query nothing).
  if (tenantHourFull && !(await pointReadCaller(rt, tenantId, request)).familiar) await takeTenantCounters(rt, tenantId, [unfamiliarSendSlot(rt, true)]);
  startAddressSlot(rt, held, 'send-code', request, tenantHourFull);
  const [{ partition, familiarity, pairTag, addressTag: tag }, stepUpChecked] = await Promise.all([
    readAsCaller(rt, tenantId, request, 'no attempt'),
    checkStepUpEarly(rt, request),
    held.pending?.inserted,
    // For a caller that shows nothing of its own (most such callers are not the guest's own), room in the tenant's hour.
    prepareTenantCounters(rt, tenantId, showsNothing(request) ? [unfamiliarSendSlot(rt, true), codeMailSlot(rt, context.tenant, true, false)] : []),
    // Opened for every address alike, so a guest's first mail of the day costs no more than a stranger's.
    dayTable(rt, 'mail', rt.now()),
    dayTable(rt, 'expiry', rt.now() + codeConfig.ttlSeconds * 1000),
  ]);
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
  const stepUp = await requireStepUpPastCeiling(rt, partition, familiar, request, await stepUpChecked);
  const now = rt.now();
  const sendTimes = withinWindow(parseTimes(partition.address?.sendTimes), now);
  refuseWhileCoolingDown(rt, sendTimes, now, memoryKey(pairTag));

  // Before anything is written: one write of the tenant's shared counters takes the daily
  // mail cap (a guest's mail counted; a caller that is not the guest's own refused once it
  // is full, the guest's own never) and the hour's codes for callers that are not the
  // guest's own; and such a caller takes its address's slot of the hour. The guest's own
  // can be refused by neither, so its counters' write goes out with the commit.
  const counting = held.countersTaken
    ? undefined
    : takeTenantCounters(rt, tenantId, [codeMailSlot(rt, context.tenant, Boolean(guest), familiar), unfamiliarSendSlot(rt, !familiar)]);
  if (counting) held.countersTaken = true;
  // Past the tenant's hour a caller that is not the guest's own is refused from memory: it takes no slot first.
  if (!familiar && tenantHourFull) await counting;
  const slot = settleAddressSlot(rt, held, 'send-code', request, familiar, limits.sendCodePerIpPerHour);
  // Awaited below, with whatever goes out beside them; observed now, so an early failure is never an unhandled one.
  for (const started of [counting, slot]) started?.catch(() => undefined);
  if (!familiar) await allSettledOrThrow([counting, slot]);

  // The attempt. An address that is not a guest gets a code too, hashed and stored like
  // a real one but never mailed: verify-code then takes the very same paths for both,
  // and still refuses it because there is no guest.
  const code = generateCode(codeConfig.length);
  // The sign-in log entry names the mail by this id; its delivery status is kept under it.
  const mailId = newMailId(now);
  const { handle, actions, expiresAt } = attemptWithNewCode(rt, partition, request, hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, code), tag, Boolean(stepUp));
  actions.push(
    addressAction(partition, pairTag, { sendTimes: JSON.stringify([...sendTimes, now]), failTimes: partition.address?.failTimes ?? '[]', expiresAt: new Date(now + HOUR_MS) }),
  );
  if (!familiar) actions.push(strangerEventAction(partition, now, false));
  // Nothing refuses the call past this point but a step-up used meanwhile.
  const { counted: stepUpCounted } = await redeemStepUp(rt, tenantId, stepUp);
  const { givingBack } = await slot;
  // A concurrent call for this guest wrote first: read again and decide anew.
  const committed = unlessLostRace(() => commit(rt, partition, actions, { ...log('code_sent'), mailId }, expiresAt));
  await allSettledOrThrow([committed, familiar ? counting : undefined, givingBack, stepUpCounted]);
  if (!(await committed)) return undefined;

  // The mail, queued for every address alike, so neither the answer nor its timing tells
  // who is invited: a stranger's message has no recipient and the send-mail trigger drops
  // it. No provider is called here; its outages and refusals show in the mail's fate.
  await queueCodeMail(rt, { id: mailId, tenantId, notAfter: expiresAt, content: { to: guest?.email ?? null, code, locale: request.locale } });
  return {
    status: 'code_sent',
    expiresInSeconds: codeConfig.ttlSeconds,
    resendAfterSeconds: codeConfig.resendCooldownSeconds,
    attempt: handle,
  };
}

/** The caller's cooldown and hour for this guest (per device, invitation or address): a refusal is remembered until it ends. */
function refuseWhileCoolingDown(rt: Runtime, sendTimes: number[], now: number, memoryKey: string): void {
  const { code: codeConfig, limits } = rt.config;
  const cooldownLeft = Math.ceil((Math.max(0, ...sendTimes) + codeConfig.resendCooldownSeconds * 1000 - now) / 1000);
  if (sendTimes.length > 0 && cooldownLeft > 0) {
    rt.earlyRejection.block(memoryKey, now + cooldownLeft * 1000);
    fail('rate_limited', { message: `Wait ${cooldownLeft} seconds before asking for another code.`, retryAfterSeconds: cooldownLeft });
  }
  if (sendTimes.length >= limits.codesPerGuestPerHour) {
    const retryAfterSeconds = secondsUntilRoom(sendTimes, limits.codesPerGuestPerHour, now);
    rt.earlyRejection.block(memoryKey, now + retryAfterSeconds * 1000);
    fail('rate_limited', { message: 'Too many codes were asked for this address in the last hour. Try again later.', retryAfterSeconds });
  }
}

/** The attempt a send-code resends within: the one its handle names, unless that was already used to sign in. */
function resendingAttempt(partition: GuestPartition): TableEntityResult<AttemptEntity> | undefined {
  const attempt = partition.attempt;
  return attempt && usedHashes(attempt).length === 0 ? attempt : undefined;
}

/**
 * The attempt's row with a new code: the attempt the handle names (its newest live
 * code kept, its wrong tries never reset), or a new attempt.
 */
function attemptWithNewCode(
  rt: Runtime,
  partition: GuestPartition,
  request: SendCodeRequest,
  codeHash: string,
  tag: string,
  solvedStepUp: boolean,
): { handle: string; actions: TransactionAction[]; expiresAt: number } {
  const now = rt.now();
  const expiresAt = now + rt.config.code.ttlSeconds * 1000;
  const resending = resendingAttempt(partition);
  const handle = resending && request.attempt ? request.attempt : newAttemptHandle(now);
  const previous = resending ? attemptCodes(resending).filter((c) => c.x > now) : [];
  const newCode: AttemptCode = { h: codeHash, x: expiresAt, s: now };
  const attempt: AttemptEntity = {
    address: resending ? resending.address : tag,
    codes: JSON.stringify([...previous, newCode].slice(-CODES_PER_ATTEMPT)),
    usedHashes: '[]',
    failures: resending ? resending.failures : 0,
    lastSentAt: now,
    expiresAt: new Date(expiresAt),
    // A step-up solved for an attempt holds for its codes: verify-code does not ask again.
    steppedUp: solvedStepUp || Boolean(resending?.steppedUp),
  };
  return { handle, actions: [attemptAction(partition.partitionKey, handle, resending, attempt)], expiresAt };
}
