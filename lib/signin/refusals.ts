import type { TableEntityResult } from '@azure/data-tables';
import type { GuestpassError } from '../errors.js';
import { OTP_ROW, signInLogAction, type GuestEntity, type OtpEntity, type SignInEvent } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { noteExpiry } from '../storage/expiryIndex.js';
import { countTenantEvents } from '../storage/tenantCounters.js';
import { HOUR_MS } from './limits.js';

/*
 * Refusals an operator needs to see (a domain the allow/deny list refuses, email codes
 * turned off, a guest the lifecycle disabled), without unbounded writes from strangers:
 *
 * - the tenant counts them per reason per hour: one write of this instance's counter
 *   row (lib/storage/tenantCounters.ts countTenantEvents), which the sign-in summary
 *   reads beside the log (lib/admin/signInSummary.ts);
 * - a guest's own sign-in log gets a row for a reason at most once an hour: the time it
 *   was last logged is kept on the guest-wide row (one transaction with the log row).
 *   Addresses that are no guest (and blocked guests, which sign-in treats alike) get
 *   no row, so strangers never write one.
 */

/** The reasons counted and logged; each is also a sign-in log outcome (lib/signin/outcomes.ts). */
export const REFUSAL_REASONS = ['domain_blocked', 'otp_disabled', 'guest_disabled'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The counter of a reason in an hour (0-23, UTC): table property names take letters, digits and _. */
export function refusalCounter(reason: RefusalReason, atMs: number): string {
  return `h${String(new Date(atMs).getUTCHours()).padStart(2, '0')}_${reason}`;
}

export interface RefusedCall {
  tenantId: string;
  event: SignInEvent;
  clientIp?: string;
  /** The guest's partition as read, when the address is a guest the call may see. */
  partitionKey?: string;
  guest?: TableEntityResult<GuestEntity> | GuestEntity;
  otp?: TableEntityResult<OtpEntity>;
}

/** JSON `{reason: ms}` on the guest-wide row: when each reason was last logged for this guest. */
function loggedTimes(otp: OtpEntity | undefined): Record<string, number> {
  try {
    const parsed = JSON.parse((otp as { refusalsLogged?: string } | undefined)?.refusalsLogged ?? '{}') as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/** Counts the refusal for the tenant and, once an hour per reason, logs it for the guest; then throws `error`. */
export async function refuse(rt: Runtime, call: RefusedCall, reason: RefusalReason, error: GuestpassError): Promise<never> {
  const now = rt.now();
  await countTenantEvents(rt, call.tenantId, [refusalCounter(reason, now)]);
  if (call.guest && call.partitionKey) {
    const logged = loggedTimes(call.otp);
    if (!(now - (logged[reason] ?? 0) < HOUR_MS)) {
      const kept = Object.fromEntries(Object.entries(logged).filter(([, at]) => now - at < HOUR_MS));
      await rt.tables.guests.submitTransaction([
        // Unconditional: two racing refusals may both log, which is the most this allows.
        ['upsert', { partitionKey: call.partitionKey, rowKey: OTP_ROW, refusalsLogged: JSON.stringify({ ...kept, [reason]: now }), expiresAt: new Date(Math.max(call.otp?.expiresAt?.getTime() ?? 0, now + HOUR_MS)) }, 'Merge'],
        signInLogAction(rt, call.partitionKey, { tenantId: call.tenantId, guestId: call.guest.guestId, event: call.event, outcome: reason, clientIp: call.clientIp }),
      ]);
      await noteExpiry(rt, call.partitionKey, now + HOUR_MS);
    }
  }
  throw error;
}
