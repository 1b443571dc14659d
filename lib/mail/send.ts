import type { Runtime } from '../runtime.js';
import { resolveTenant, type Tenant } from '../tenants/tenants.js';
import { takeTenantCounters, type CounterTake } from '../storage/tenantCounters.js';
import { dailyMailSlot, newMailId } from './delivery.js';
import { queueInvitationMail } from './queue.js';
import type { MailPreviewInput } from './settings.js';
import { renderCodeMail, renderInvitationMail, type RenderedMail } from './templates.js';

/** The tenant's own daily cap if it has one, else MAIL_DAILY_CAP_PER_TENANT. */
function dailyCapOf(rt: Runtime, tenant: Tenant): number {
  return tenant.mail?.dailyCap ?? rt.config.mailDailyCapPerTenant;
}

function validMinutes(rt: Runtime): number {
  return Math.round(rt.config.code.ttlSeconds / 60);
}

/**
 * send-code's take of the tenant's daily mail cap (lib/storage/tenantCounters.ts), for
 * guests and strangers alike: a guest's mail is counted, a stranger's only checked.
 */
export function codeMailSlot(rt: Runtime, tenant: Tenant, forGuest: boolean, familiar: boolean): CounterTake {
  const cap = dailyCapOf(rt, tenant);
  const slot = dailyMailSlot(cap, forGuest && cap > 0, rt.now());
  // The guest's own caller (DESIGN §4) is counted and never refused: strangers cannot use the cap up against it.
  return familiar ? { ...slot, cap: 0 } : slot;
}

export interface InvitationMailRequest {
  to: string;
  inviteRedeemUrl: string;
  invitedUserDisplayName?: string;
  customizedMessageBody?: string;
  locale?: string;
}

/** Takes the invitation's place in the tenant's daily cap and queues it (the send-mail trigger sends it). */
export async function sendInvitationMail(rt: Runtime, tenant: Tenant, request: InvitationMailRequest): Promise<void> {
  const cap = dailyCapOf(rt, tenant);
  await takeTenantCounters(rt, tenant.id, [dailyMailSlot(cap, cap > 0, rt.now())]);
  await queueInvitationMail(rt, { id: newMailId(rt.now()), tenantId: tenant.id, content: request });
}

/**
 * What a tenant's code or invitation mail looks like with its saved settings, or with
 * settings it is about to save: a sample code, and a redeem URL on its first redirect URI.
 */
export function previewMail(rt: Runtime, tenant: Tenant, input: MailPreviewInput): RenderedMail {
  const sender = { displayName: tenant.displayName, mail: input.mail ?? tenant.mail };
  if (input.kind === 'code') {
    const code = '1234567890'.repeat(2).slice(0, rt.config.code.length);
    return renderCodeMail({ code, tenant: sender, validMinutes: validMinutes(rt), locale: input.locale });
  }
  const redirect = new URL(tenant.redirectUris[0] ?? `${rt.config.publicBaseUrl}/`);
  redirect.searchParams.set('tenant', tenant.id);
  redirect.searchParams.set('login_hint', 'guest@example.com');
  return renderInvitationMail({ tenant: sender, inviteRedeemUrl: redirect.href, invitedUserDisplayName: 'Alex Example', locale: input.locale });
}

/** POST /manage/tenants/{tenant}/mail-preview. */
export async function previewTenantMail(rt: Runtime, tenantRef: string, input: MailPreviewInput): Promise<RenderedMail> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  return previewMail(rt, tenant, input);
}
