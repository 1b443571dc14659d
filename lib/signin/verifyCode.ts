import type { TransactionAction } from '@azure/data-tables';
import { guestAccessRefusal } from '../admin/guestAccess.js';
import { fail, GuestpassError } from '../errors.js';
import { emitEvent } from '../events/emit.js';
import { indexAfterChange, indexBeforeChange } from '../guests/guestIndex.js';
import { GUEST_ROW, type SignInLogEntry } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { isStatus } from '../storage/tables.js';
import { dayTable, secondsUntilNextDay } from '../storage/dayTables.js';
import { telemetry } from '../telemetry/telemetry.js';
import type { TenantContext } from '../tenants/tenants.js';
import { resolveTenant } from '../tenants/tenants.js';
import { asCallOf, askForStepUp, checkStepUpEarly, redeemStepUp, requireStepUpPastCeiling, settleAddressSlot, showsNothing, startAddressSlot } from './admission.js';
import {
  addressAction,
  allSettledOrThrow,
  attemptChange,
  attemptCodes,
  codesMatch,
  commit,
  guessesToday,
  hashCode,
  pointReadCaller,
  readAsCaller,
  strangerEventAction,
  unlessLostRace,
  untilSettled,
  usedHashes,
  type Held,
} from './attempts.js';
import { rememberSignIn } from './familiarity.js';
import { countWrongGuess, knownOverCeiling, readGuessCounts, type GuessCounts } from './guessBudget.js';
import { HOUR_MS, parseTimes, refuseFromMemory, secondsUntilRoom, withinWindow } from './limits.js';
import { refuse } from './refusals.js';
import { issueSession, type IssuedSession } from './sessions.js';
import { requireOtpMethod, resolveSignInMethod } from './signInMethod.js';

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
  if (showsNothing(request)) refuseFromMemory(rt, 'verify-fail', request.clientIp);
  const context = await resolveTenant(rt, request.tenant);
  // For guests and strangers alike, so the answer does not tell who is invited (counted for the tenant, logged for nobody).
  if (!context.otpEnabled) await refuse(rt, { tenantId: context.tenant.id, event: 'verify-code', clientIp: request.clientIp }, 'otp_disabled', new GuestpassError('otp_disabled'));
  return asCallOf('verify-fail', request.clientIp, () =>
    untilSettled(
      (held) => verifyOnce(rt, context, request, held),
      // Still losing after every retry: answer without telling whether this code was right.
      () => new GuestpassError('too_many_attempts', { message: 'Too many verifications at once for this address. Try again in a moment.', retryAfterSeconds: 1 }),
    ),
  );
}

async function verifyOnce(rt: Runtime, context: TenantContext, request: VerifyCodeRequest, held: Held): Promise<SignedIn | undefined> {
  const tenantId = context.tenant.id;
  const { code: codeConfig, limits } = rt.config;

  // Admission. The partition's read goes out with what needs no verdict of it: for a
  // caller that shows nothing of its own, the address's row and the day's wrong codes
  // of the tenant and the deployment; the step-up's check; the expiry index's day table.
  // A client that ignores the handle is checked against the newest attempt its own address started.
  // Past the tenant's or the deployment's wrong-code ceiling a caller without a step-up is asked for one: nothing goes out ahead.
  const surge = knownOverCeiling(rt, tenantId);
  if (surge && !request.stepUp) {
    // A caller that is not the guest's own is asked for a step-up after point reads (a flood's calls query nothing),
    // unless the attempt its handle names was asked with one solved.
    const { familiar, attempt } = await pointReadCaller(rt, tenantId, request);
    if (!familiar && !attempt?.steppedUp) await askForStepUp(rt);
  }
  startAddressSlot(rt, held, 'verify-fail', request, surge && !request.stepUp);
  const [{ partition, familiarity, pairTag, addressTag: tag }, stepUpChecked, earlyCounts] = await Promise.all([
    readAsCaller(rt, tenantId, request, 'newest of its address'),
    checkStepUpEarly(rt, request),
    showsNothing(request) && !surge ? readGuessCounts(rt, tenantId) : undefined,
    held.pending?.inserted,
    dayTable(rt, 'expiry', rt.now() + HOUR_MS),
  ]);
  const familiar = familiarity !== undefined;
  const { guest, attempt } = partition;
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
  const counts: GuessCounts | undefined = familiar ? undefined : (earlyCounts ?? (await readGuessCounts(rt, tenantId)));
  const stepUp = attempt?.steppedUp ? undefined : await requireStepUpPastCeiling(rt, partition, familiar, request, await stepUpChecked, counts?.over);

  if (attempt && attempt.failures >= codeConfig.maxAttempts) {
    fail('too_many_attempts', { message: 'Too many wrong tries for this code. Ask for a new code.' });
  }
  const validFrom = guest ? Math.max(guest.codesValidFrom ?? 0, Date.parse(guest.invitedAt) || 0) : 0;
  const codes = attemptCodes(attempt);
  const live = codes.filter((c) => c.x > now && c.s >= validFrom);
  if (codes.length > 0 && live.length === 0 && codes.some((c) => c.x <= now)) fail('code_expired');
  // The client address's hour of wrong codes, taken before the code is compared (given back if it is right).
  const { givingBack } = await settleAddressSlot(rt, held, 'verify-fail', request, familiar, limits.failedVerificationsPerIpPerHour);

  const presented = hashCode(codeConfig.pepper, tenantId, guest?.guestId ?? partition.partitionKey, request.code);
  // Every live code is compared, so the time taken does not tell which matched.
  const matched = live.filter((c) => codesMatch(c.h, presented)).length > 0;
  telemetry.count('codesCompared', { 'tenant.id': tenantId, result: matched ? 'match' : 'wrong' });

  if (!matched && usedHashes(attempt).some((h) => codesMatch(h, presented))) {
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
  // The partition's first expiry the index must know of: the attempt's, noted already by
  // its send-code (the same index row: no new row), else the counted rows' hour.
  const attemptExpiry = attempt?.expiresAt.getTime() ?? Infinity;
  const firstExpiry = attemptExpiry > now ? Math.min(attemptExpiry, now + HOUR_MS) : now + HOUR_MS;
  const commitCounted = async (actions: TransactionAction[], logged: SignInLogEntry | undefined): Promise<boolean> => {
    const { counted: stepUpCounted } = await redeemStepUp(rt, tenantId, stepUp);
    const committed = unlessLostRace(() => commit(rt, partition, actions, logged, firstExpiry));
    await allSettledOrThrow([committed, givingBack, stepUpCounted]);
    return committed;
  };

  if (!matched || !guest || !attempt) {
    const actions = attempt ? [...counted, attemptChange(attempt, partition.partitionKey, { failures: attempt.failures + 1 })] : counted;
    if (!(await commitCounted(actions, log('invalid_code')))) return undefined;
    // The tenant's surge signal, not a budget: a storage fault here must not turn a counted verdict into a 503.
    if (counts) await countWrongGuess(rt, tenantId).catch(() => undefined);
    fail('invalid_code');
  }

  // The code is right. Only now may the answer tell what stands in the way: the
  // verdict is counted first, like any other, then the guest is told.
  const barred = guestAccessRefusal(context, guest.email, guest);
  // A guest who never redeemed resolves its method now (Google, Microsoft, OTP); one that is not OTP is told so, and keeps it.
  const method = guest.source ?? (await resolveSignInMethod(rt, context, guest.email));
  if (barred || method !== 'OTP') {
    if (!(await commitCounted(counted, undefined))) return undefined;
    await giveBackSlot(held);
    if (barred) await refuse(rt, { ...log(barred.outcome), partitionKey: partition.partitionKey, guest, otp: partition.otp }, barred.outcome, barred.error);
    await requireOtpMethod(rt, context, partition, guest, log, method);
  }

  const redeemedAt = new Date(now).toISOString();
  const { action, session } = issueSession(rt, tenantId, { id: guest.guestId, email: guest.email, displayName: guest.displayName, source: 'OTP' });
  const remembered = rememberSignIn(guest, tag, request);
  const actions: TransactionAction[] = [
    ...counted,
    // The whole attempt is consumed: its other code cannot be used after this one.
    attemptChange(attempt, partition.partitionKey, { codes: '[]', usedHashes: JSON.stringify(codes.map((c) => c.h)) }),
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
    if (!(await commitCounted(actions, log('signed_in')))) return undefined;
  } catch (error) {
    // The guest was deleted meanwhile: no session for it.
    if (isStatus(error, 404)) fail('invalid_code');
    throw error;
  }
  // A right code is no wrong one: the client address's slot goes back, beside what follows the sign-in.
  await allSettledOrThrow([
    giveBackSlot(held),
    indexChange && indexAfterChange(rt, indexChange),
    guest.redeemedAt ? undefined : emitEvent(rt, tenantId, 'guest.redeemed', { guestId: guest.guestId }),
  ]);
  return { ...session, device: remembered.device };
}

/** Gives back the client address's slot of a call whose code was right. */
async function giveBackSlot(held: Held): Promise<void> {
  const slot = held.slot;
  held.slot = undefined;
  await slot?.release();
}
