import type { MailService as SendGridMailService } from '@sendgrid/mail';
import type { EmailConfig } from '../config.js';
import { loadOnFirstUse, MailRefused, messageIdFor, TRANSACTIONAL_HEADERS, type Mailer } from './message.js';

type SendGridSettings = Extract<EmailConfig, { transport: 'sendgrid' }>;

/** The custom argument every SendGrid event carries back: guestpass's id of the mail. */
export const SENDGRID_MAIL_ID_ARG = 'guestpass_mail_id';

/** The SendGrid client is a lazy bundle of its own (lib/lazy/sendgrid.ts), loaded on the first mail. */
async function loadSendGrid(email: SendGridSettings): Promise<SendGridMailService> {
  const { createSendGridService } = await import('../lazy/sendgrid.js');
  return createSendGridService(email);
}

export function sendGridMailer(email: SendGridSettings): Mailer {
  const service = loadOnFirstUse(() => loadSendGrid(email));
  return {
    provider: 'sendgrid',
    async send(mail) {
      let response;
      try {
        [response] = await (await service()).send({
          to: mail.to,
          from: { email: email.from, name: email.fromName },
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          headers: { ...TRANSACTIONAL_HEADERS, 'Message-ID': messageIdFor(mail, email.from) },
          categories: ['guestpass', mail.kind],
          // Echoed in every Event Webhook event, so a delivery report finds its mail.
          customArgs: { [SENDGRID_MAIL_ID_ARG]: mail.id },
          // Transactional: no rewritten links, no tracking pixel, no unsubscribe footer or List-Unsubscribe.
          trackingSettings: {
            clickTracking: { enable: false, enableText: false },
            openTracking: { enable: false },
            subscriptionTracking: { enable: false },
          },
        });
      } catch (error) {
        throw refusalOf(error);
      }
      const messageId = response?.headers?.['x-message-id'];
      return { providerMessageId: typeof messageId === 'string' ? messageId : undefined };
    },
  };
}

/**
 * SendGrid's 4xx answer (its JSON with `errors[]`) is a refusal; a 5xx, an answer that is
 * not SendGrid's (a proxy's page) or no answer at all is an outage, thrown as it is (retried).
 */
function refusalOf(error: unknown): unknown {
  const { code, response } = error as { code?: number | string; response?: { body?: { errors?: { message?: string }[] } } };
  if (typeof code !== 'number' || code >= 500 || !Array.isArray(response?.body?.errors)) return error;
  const detail = response?.body?.errors?.map((e) => e.message).filter(Boolean).join('; ');
  return new MailRefused(`SendGrid answered ${code}${detail ? `: ${detail}` : ''}`);
}
