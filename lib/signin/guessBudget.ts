import type { Runtime } from '../runtime.js';
import { countTenantCounter, tenantCounterTotal } from '../storage/tenantCounters.js';
import { DAY_MS, dayStamp } from '../storage/dayTables.js';

/*
 * Wrong codes sent by callers that are not the guest's own are counted per tenant
 * and per deployment per UTC day. Past TENANT_FAILED_VERIFICATIONS_PER_DAY
 * (DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY) such callers must solve a step-up for
 * every verification that day: a surge slows unfamiliar callers and alerts (the sign-in
 * summary, the wrong-code alert in Bicep), and never refuses anyone. What bounds
 * guessing is the per-guest budget (GUEST_UNFAMILIAR_GUESSES_PER_DAY, SECURITY.md), so
 * strangers cannot lock a tenant or the deployment out, and this signal need not be
 * exact: it is kept in the tenant's shared counters of the day (lib/storage/tenantCounters.ts,
 * one row per app instance, read at most every TENANT_CACHE_SECONDS), so counting a
 * wrong code adds no row and usually no read.
 */
const WRONG_CODES = 'wrongCodes';
/** The deployment's counters are kept like a tenant's, under a name no tenant id takes. */
const DEPLOYMENT = '~deployment';

export interface GuessCounts {
  tenant: number;
  deployment: number;
  /** Past the tenant's or the deployment's ceiling today: unfamiliar callers must solve a step-up. */
  over: boolean;
}

function overKey(tenantId: string, now: number): string {
  return `guesses:${tenantId}:${dayStamp(now)}`;
}

/** Whether this instance already found the tenant or the deployment past its wrong-code ceiling today (no read). */
export function knownOverCeiling(rt: Runtime, tenantId: string): boolean {
  return rt.earlyRejection.until(overKey(tenantId, rt.now()), rt.now()) > 0;
}

/** Today's unfamiliar wrong codes of the tenant and of the deployment. A tenant found over its ceiling is remembered until the day ends. */
export async function readGuessCounts(rt: Runtime, tenantId: string): Promise<GuessCounts> {
  const now = rt.now();
  const cacheKey = overKey(tenantId, now);
  if (rt.earlyRejection.until(cacheKey, now)) return { tenant: 0, deployment: 0, over: true };
  const [tenant, deployment] = await Promise.all([tenantCounterTotal(rt, tenantId, WRONG_CODES), tenantCounterTotal(rt, DEPLOYMENT, WRONG_CODES)]);
  const { tenantFailedVerificationsPerDay, deploymentFailedVerificationsPerDay } = rt.config.limits;
  const over = tenant >= tenantFailedVerificationsPerDay || deployment >= deploymentFailedVerificationsPerDay;
  if (over) rt.earlyRejection.block(cacheKey, (Math.floor(now / DAY_MS) + 1) * DAY_MS);
  return { tenant, deployment, over };
}

/** Adds one wrong code to the tenant's and the deployment's counters of the day. */
export async function countWrongGuess(rt: Runtime, tenantId: string): Promise<void> {
  await Promise.all([countTenantCounter(rt, tenantId, WRONG_CODES), countTenantCounter(rt, DEPLOYMENT, WRONG_CODES)]);
}
