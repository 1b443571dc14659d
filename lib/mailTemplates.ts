/**
 * Every mail guestpass sends is rendered here, in plain text and HTML. Values put
 * into HTML always go through escapeHtml.
 */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface CodeMailInput {
  code: string;
  tenantDisplayName: string;
  validMinutes: number;
  locale?: string;
}

export function renderCodeMail({ code, tenantDisplayName, validMinutes }: CodeMailInput): RenderedMail {
  const subject = `Your ${tenantDisplayName} verification code: ${code}`;
  const text = [
    `Your verification code for ${tenantDisplayName} is:`,
    '',
    code,
    '',
    `It is valid for ${validMinutes} minutes and replaces any code sent to you before.`,
    'If you did not ask for this code, you can ignore this email.',
  ].join('\n');
  const html = [
    `<p>Your verification code for <strong>${escapeHtml(tenantDisplayName)}</strong> is:</p>`,
    `<p style="font-size:24px;font-weight:bold;letter-spacing:4px">${escapeHtml(code)}</p>`,
    `<p>It is valid for ${validMinutes} minutes and replaces any code sent to you before.</p>`,
    '<p>If you did not ask for this code, you can ignore this email.</p>',
  ].join('\n');
  return { subject, text, html };
}

export interface InvitationMailInput {
  tenantDisplayName: string;
  inviteRedeemUrl: string;
  invitedUserDisplayName?: string;
  customizedMessageBody?: string;
  locale?: string;
}

export function renderInvitationMail(input: InvitationMailInput): RenderedMail {
  const { tenantDisplayName, inviteRedeemUrl, invitedUserDisplayName, customizedMessageBody } = input;
  const greeting = invitedUserDisplayName ? `Hello ${invitedUserDisplayName},` : 'Hello,';
  const subject = `You're invited to ${tenantDisplayName}`;
  const text = [
    greeting,
    '',
    `${tenantDisplayName} has invited you to access its apps as a guest.`,
    ...(customizedMessageBody ? ['', customizedMessageBody] : []),
    '',
    `Accept the invitation: ${inviteRedeemUrl}`,
  ].join('\n');
  const html = [
    `<p>${escapeHtml(greeting)}</p>`,
    `<p><strong>${escapeHtml(tenantDisplayName)}</strong> has invited you to access its apps as a guest.</p>`,
    ...(customizedMessageBody ? [`<p>${escapeHtml(customizedMessageBody)}</p>`] : []),
    `<p><a href="${escapeHtml(inviteRedeemUrl)}">Accept the invitation</a></p>`,
  ].join('\n');
  return { subject, text, html };
}
