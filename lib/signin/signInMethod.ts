import { emailDomain } from '../guests/email.js';
import type { SignInSource } from '../guests/guests.js';
import { discoverMicrosoftAccount } from './realmDiscovery.js';
import type { Runtime } from '../runtime.js';
import type { TenantContext } from '../tenants/tenants.js';

const GOOGLE_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * Decides how a guest signs in, at first redemption (Azure AD B2B order): Google
 * federation for Gmail addresses when the tenant has it, a Microsoft account when
 * realm discovery finds one, else an email code when the tenant's policy allows it.
 * Undefined means the guest has no way to sign in.
 */
export async function resolveSignInMethod(rt: Runtime, context: TenantContext, email: string): Promise<SignInSource | undefined> {
  if (context.tenant.googleFederation && GOOGLE_DOMAINS.has(emailDomain(email))) return 'Google';
  const microsoft = await discoverMicrosoftAccount(rt.config.realmDiscovery, email);
  if (microsoft) return microsoft;
  return context.otpEnabled ? 'OTP' : undefined;
}
