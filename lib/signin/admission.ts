import { GuestpassError } from '../errors.js';
import type { GuestPartition } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { countTenantEvents } from '../storage/tenantCounters.js';
import { telemetry } from '../telemetry/telemetry.js';
import { strangerTimes, type Held } from './attempts.js';
import type { Shown } from './familiarity.js';
import { admitAddressEvent, ipLimitKey, startAddressEvent, type AddressEvent } from './limits.js';
import { checkStepUp, issueChallenge, stepUpCounter, type StepUpCheck } from './stepUp.js';

/*
 * Admission: what a send-code or verify-code must pass before it writes, decided from
 * the partition's read and taken before the work it bounds. What needs no verdict of
 * the read goes out with it, so the request's storage calls wait on each other only
 * where one needs another's answer: the client address's row for a caller that shows
 * nothing of its own (most callers that are not the guest's own), a step-up's check.
 */

interface AdmissionRequest extends Shown {
  clientIp: string;
  stepUp?: string;
}

/** Whether the caller showed a device or invitation: only then may it be the guest's own without its address. */
export function showsNothing(request: Shown): boolean {
  return !request.device && !request.invitation;
}

/** Calls of each client address under way on this instance, per endpoint. */
const callsUnderWay = new Map<string, number>();

/** Runs one send-code or verify-code call counted among its client address's calls under way here. */
export async function asCallOf<T>(event: AddressEvent, clientIp: string, call: () => Promise<T>): Promise<T> {
  const key = `${event}:${ipLimitKey(clientIp)}`;
  callsUnderWay.set(key, (callsUnderWay.get(key) ?? 0) + 1);
  try {
    return await call();
  } finally {
    const left = (callsUnderWay.get(key) ?? 1) - 1;
    if (left > 0) callsUnderWay.set(key, left);
    else callsUnderWay.delete(key);
  }
}

/**
 * Starts inserting the client address's row for `event` before the partition is read,
 * when the caller shows nothing of its own (it is the guest's own then only from an
 * address the guest signed in from, and gives the row back), and neither is this
 * instance sure such a caller is held back (`heldBack`: past a tenant ceiling, so that
 * a flood's refused calls cost one read and no write) nor is another call of the same
 * address under way here: a burst from one address inserts after its reads, so its
 * refused calls' rows are not all in flight at once (a row whose insert storage answered
 * late can land after the call took it back).
 */
export function startAddressSlot(rt: Runtime, held: Held, event: AddressEvent, request: AdmissionRequest, heldBack: boolean): void {
  const alone = (callsUnderWay.get(`${event}:${ipLimitKey(request.clientIp)}`) ?? 0) <= 1;
  if (showsNothing(request) && !heldBack && alone && !held.slot && !held.pending) held.pending = startAddressEvent(rt, event, request.clientIp);
}

/**
 * Once the caller is known: a caller that is not the guest's own takes one of its
 * address's `limit` events of the hour (counted now, limits.ts admitAddressEvent); the
 * guest's own gives back a row inserted early. Resolves when the slot is taken; what
 * is given back is awaited with the request's commit (`givingBack`).
 */
export async function settleAddressSlot(rt: Runtime, held: Held, event: AddressEvent, request: AdmissionRequest, familiar: boolean, limit: number): Promise<{ givingBack?: Promise<void> }> {
  const pending = held.pending;
  if (familiar) {
    held.pending = undefined;
    // A row that stays would count against the address: given back, but never at the cost of the answer.
    return { givingBack: pending?.release().catch(() => undefined) };
  }
  if (held.slot) return {};
  held.pending = undefined;
  const slot = admitAddressEvent(rt, pending ?? startAddressEvent(rt, event, request.clientIp), limit);
  held.slot = await slot;
  return {};
}

/** The check of a step-up the request carries, made together with the partition's read (it is used, if needed, only at the end). */
export function checkStepUpEarly(rt: Runtime, request: AdmissionRequest): Promise<StepUpCheck | undefined> | undefined {
  return request.stepUp ? checkStepUp(rt, request.stepUp, request.clientIp) : undefined;
}

/**
 * Past GUEST_STEP_UP_AFTER_PER_HOUR events from callers that are not the guest's own
 * (or while the tenant's or the deployment's wrong codes of the day are past their
 * ceiling: `surge`), such a call must carry a solved step-up; otherwise it answers 428
 * challenge_required with a fresh challenge (and writes nothing). A solved step-up is
 * only checked here: the caller redeems it last (redeemStepUp), once nothing can refuse the call.
 */
export async function requireStepUpPastCeiling(
  rt: Runtime,
  partition: GuestPartition,
  familiar: boolean,
  request: AdmissionRequest,
  checked: StepUpCheck | undefined,
  surge = false,
): Promise<StepUpCheck | undefined> {
  if (familiar) return undefined;
  if (!surge && strangerTimes(partition, rt.now()).length < rt.config.limits.guestStepUpAfterPerHour) return undefined;
  // A request read again after a lost race: a step-up it already used still counts.
  if (redeemedBy.has(request)) return { redeem: async () => true };
  if (checked) return { redeem: async () => (await checked.redeem()) && Boolean(redeemedBy.add(request)) };
  return askForStepUp(rt);
}

/** 428 challenge_required with a fresh challenge. */
export async function askForStepUp(rt: Runtime): Promise<never> {
  throw new GuestpassError('challenge_required', { extra: { challenge: await issueChallenge(rt) } });
}

/** The requests whose step-up is used up (by this request itself, before a lost race made it read again). */
const redeemedBy = new WeakSet<object>();

/**
 * Uses up the request's step-up, the last step before its writes; one used meanwhile
 * is asked for again. `counted` is the count of the hour's solved step-ups, to await
 * with the commit (beside the refusals in the tenant's counters: the sign-in summary shows them).
 */
export async function redeemStepUp(rt: Runtime, tenantId: string, check: StepUpCheck | undefined): Promise<{ counted?: Promise<void> }> {
  if (!check) return {};
  if (!(await check.redeem())) await askForStepUp(rt);
  telemetry.count('stepUps', { 'tenant.id': tenantId, stage: 'solved' });
  // A summary's count, not a budget: a storage fault here must not fail a call whose step-up is used.
  return { counted: countTenantEvents(rt, tenantId, [stepUpCounter(rt.now())]).catch(() => undefined) };
}
