import type { Runtime } from '../runtime.js';
import { resolveTenant } from './tenants.js';

/** Whether a browser origin may call a tenant's guest endpoints (its allowedOrigins, exact match, no wildcard). */
export async function isOriginAllowed(rt: Runtime, tenantRef: string, origin: string): Promise<boolean> {
  try {
    const { tenant } = await resolveTenant(rt, tenantRef);
    return tenant.allowedOrigins.includes(origin);
  } catch {
    return false;
  }
}
