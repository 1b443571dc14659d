import { GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { CounterTake } from '../storage/tenantCounters.js';
import { HOUR_MS } from './limits.js';

/**
 * The bound on what anonymous send-code calls write per tenant (SECURITY.md, "Bounded
 * writes"): codes asked for from a client address the address asked about never signed
 * in from (every stranger's, a guest's from a new network) are counted per tenant and
 * UTC hour, and past TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR such a call is refused
 * before it writes anything, until the hour ends. A guest asking from an address it
 * signed in from before is neither counted nor refused, so a flood never locks it out.
 */
export function unfamiliarSendSlot(rt: Runtime, unfamiliar: boolean): CounterTake {
  const now = rt.now();
  const hour = String(new Date(now).getUTCHours()).padStart(2, '0');
  const nextHour = (Math.floor(now / HOUR_MS) + 1) * HOUR_MS;
  return {
    counter: `unfamiliarSends${hour}`,
    cap: unfamiliar ? rt.config.limits.tenantUnfamiliarSendCodesPerHour : 0,
    counts: unfamiliar,
    refusal: () =>
      new GuestpassError('rate_limited', {
        message: 'Too many codes were asked for at this organisation from new networks in the last hour. Try again later, or from a network you signed in from before.',
        retryAfterSeconds: Math.max(1, Math.ceil((nextHour - now) / 1000)),
      }),
  };
}
