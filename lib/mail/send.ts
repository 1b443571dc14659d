import type { Runtime } from '../runtime.js';
import { resolveTenant, type Tenant } from '../tenants/tenants.js';
import { dayTable } from '../storage/dayTables.js';
import type { CounterTake } from '../storage/tenantCounters.js';
import { dailyMailSlot, deliverMail, deliverNothing, newMailId } from './delivery.js';
import type { MailPreviewInput } from './settings.js';
import { renderCodeMail, renderInvitationMail, type RenderedMail } from './templates.js';

/** The tenant's own daily cap if it has one, else MAIL_DAILY_CAP_PER_TENANT. */
function dailyCapOf(rt: Runtime, tenant: Tenant): number {
  return tenant.mail?.dailyCap ?? rt.config.mailDailyCapPerTenant;
}

function validMinutes(rt: Runtime): number {
  return Math.round(rt.config.code.ttlSeconds / 60);
}

export interface CodeMailRequest {
  /** The id the guest's sign-in log entry names the mail by. */
  mailId: string;
  to: string;
  code: string;
  locale?: string;
}

/**
 * send-code's take of the tenant's daily mail cap (lib/storage/tenantCounters.ts), for
 * guests and strangers alike: a guest's mail is counted, a stranger's only checked.
 */
export async function codeMailSlot(rt: Runtime, tenant: Tenant, forGuest: boolean): Promise<CounterTake> {
  // The day's mail table (made once per instance and day) is opened before the paths part,
  // so a guest's first mail of the day costs no more storage transactions than a stranger's.
  await dayTable(rt, 'mail', rt.now());
  return dailyMailSlot(dailyCapOf(rt, tenant), forGuest, rt.now());
}

/** Renders the code mail in the tenant's branding and sends it (send-code took its cap slot with codeMailSlot). */
export async function sendCodeMail(rt: Runtime, tenant: Tenant, request: CodeMailRequest): Promise<void> {
  const rendered = renderCodeMail({ code: request.code, tenant, validMinutes: validMinutes(rt), locale: request.locale });
  await deliverMail(rt, { id: request.mailId, to: request.to, kind: 'code', tenantId: tenant.id, ...rendered }, 'reserved');
}

/** What send-code does in place of sendCodeMail for an address that is not a guest: the same write, no mail. */
export async function sendNoCodeMail(rt: Runtime, tenant: Tenant): Promise<void> {
  await deliverNothing(rt, tenant.id);
}

export interface InvitationMailRequest {
  to: string;
  inviteRedeemUrl: string;
  invitedUserDisplayName?: string;
  customizedMessageBody?: string;
  locale?: string;
}

export async function sendInvitationMail(rt: Runtime, tenant: Tenant, request: InvitationMailRequest): Promise<void> {
  const { to, ...content } = request;
  const rendered = renderInvitationMail({ tenant, ...content });
  await deliverMail(rt, { id: newMailId(rt.now()), to, kind: 'invitation', tenantId: tenant.id, ...rendered }, dailyCapOf(rt, tenant));
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
