import type { TableEntityResult } from '@azure/data-tables';
import { GuestpassError } from '../errors.js';
import { emailDomain } from '../guests/email.js';
import { indexBeforeChange } from '../guests/guestIndex.js';
import { GUEST_ROW, OTP_ROW, signInLogAction, type GuestEntity, type GuestPartition, type SignInLogEntry, type SignInSource } from '../guests/guests.js';
import { discoverMicrosoftAccount } from './realmDiscovery.js';
import type { Runtime } from '../runtime.js';
import { noteExpiry } from '../storage/expiryIndex.js';
import { isStatus } from '../storage/tables.js';
import { takeTenantCounters } from '../storage/tenantCounters.js';
import type { TenantContext } from '../tenants/tenants.js';
import { HOUR_MS } from './limits.js';
import { refuse } from './refusals.js';
import { unfamiliarSendSlot } from './unfamiliarSends.js';

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

/** Why a guest whose method resolved to `resolved` cannot get a code, if it cannot. */
export function methodRefusal(resolved: SignInSource | undefined): { outcome: string; error: GuestpassError } | undefined {
  if (!resolved) return { outcome: 'no_sign_in_method', error: new GuestpassError('no_sign_in_method') };
  if (resolved === 'OTP') return undefined;
  return { outcome: `other_method_${resolved}`, error: new GuestpassError('other_method_required', { extra: { method: resolved } }) };
}

/**
 * Fails unless this guest signs in with an email code: resolves the method at first
 * redemption and stores a non-OTP result, so it never changes by itself.
 */
export async function requireOtpMethod(
  rt: Runtime,
  context: TenantContext,
  partition: GuestPartition,
  guest: TableEntityResult<GuestEntity>,
  log: (outcome: string) => SignInLogEntry,
  resolved?: SignInSource,
): Promise<void> {
  const source = guest.source ?? resolved ?? (await resolveSignInMethod(rt, context, guest.email));
  const refusal = methodRefusal(source);
  if (refusal && source && !guest.source) {
    // Counted as a stranger's first resolution is (answerLikeAnUnredeemedGuest), which the tenant's hour bounds.
    await takeTenantCounters(rt, context.tenant.id, [unfamiliarSendSlot(rt, true)]);
    try {
      // The listing index first (lib/guests/guestIndex.ts): the guest's rows under its source.
      await indexBeforeChange(rt, context.tenant.id, guest, { ...guest, source });
      await rt.tables.guests.submitTransaction([
        ['update', { partitionKey: partition.partitionKey, rowKey: GUEST_ROW, source }, 'Merge', { etag: guest.etag }],
        signInLogAction(rt, partition.partitionKey, log(refusal.outcome)),
      ]);
      // Its log row expires; a stranger's first resolution notes the partition the same way.
      await noteExpiry(rt, partition.partitionKey, rt.now() + HOUR_MS);
    } catch (error) {
      // A concurrent request resolved (or an admin reset or deleted) the guest first; its answer stands.
      if (!isStatus(error, 404, 409, 412)) throw error;
    }
    throw refusal.error;
  }
  if (refusal) throw refusal.error;
  if (!context.otpEnabled) await refuse(rt, { ...log('otp_disabled'), partitionKey: partition.partitionKey, guest, otp: partition.otp }, 'otp_disabled', new GuestpassError('otp_disabled'));
}

/**
 * With email codes off for the tenant, answers an address that is not a guest what a
 * guest who never redeemed would get from requireOtpMethod (409 for a Google or
 * Microsoft address, 403 when no method is left), with the same writes the first time:
 * the resolved method, kept on the guest-wide row as a guest keeps it on its row, and
 * like a guest's for good (no expiry: the tenant's hour of unfamiliar sends bounds how
 * many such rows strangers can leave), so neither the answer nor its timing tells who is invited.
 */
export async function answerLikeAnUnredeemedGuest(rt: Runtime, context: TenantContext, partition: GuestPartition, email: string): Promise<void> {
  const stored = partition.otp?.method as SignInSource | undefined;
  const method = stored ?? (await resolveSignInMethod(rt, context, email));
  const refusal = methodRefusal(method);
  if (refusal && method && !stored) {
    await takeTenantCounters(rt, context.tenant.id, [unfamiliarSendSlot(rt, true)]);
    const row = { partitionKey: partition.partitionKey, rowKey: OTP_ROW, method };
    const write = () => rt.tables.guests.submitTransaction([['upsert', row, 'Merge']]);
    // Written twice: a guest's first resolution makes two writes before its log row's note,
    // its listing index rows (a transaction in the tenant's index partition) and its row,
    // and a stranger's answer costs the same.
    await write();
    await write();
    await noteExpiry(rt, partition.partitionKey, rt.now() + HOUR_MS);
  }
  if (refusal) throw refusal.error;
  // Counted for the tenant; a stranger gets no log row.
  if (!context.otpEnabled) await refuse(rt, { tenantId: context.tenant.id, event: 'send-code', clientIp: '' }, 'otp_disabled', new GuestpassError('otp_disabled'));
}
