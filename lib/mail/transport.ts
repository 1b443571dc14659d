import type { EmailConfig } from '../config.js';
import type { Tables } from '../storage/tables.js';
import { acsMailer, type CredentialFactory } from './acs.js';
import { telemetry } from '../telemetry/telemetry.js';
import { MailRefused, type Mailer } from './message.js';
import { outboxMailer } from './outbox.js';
import { sendGridMailer } from './sendgrid.js';
import { smtpMailer } from './smtp.js';

/**
 * The mail provider EMAIL_TRANSPORT names. Building it loads no provider library:
 * each one's client is a bundle of its own (lib/lazy/), imported on its first mail.
 */
export function createMailer(email: EmailConfig, tables: Tables, now: () => number, credentials: CredentialFactory): Mailer {
  return traced(providerMailer(email, tables, now, credentials));
}

/** A dependency span per send and the mails metric by fate (lib/telemetry/): the provider and the kind, never the recipient. */
function traced(mailer: Mailer): Mailer {
  return {
    provider: mailer.provider,
    send: (mail) =>
      telemetry.dependency('mail', `send ${mailer.provider}`, { 'mail.provider': mailer.provider, 'mail.kind': mail.kind, 'tenant.id': mail.tenantId }, async () => {
        try {
          const receipt = await mailer.send(mail);
          telemetry.count('mails', { 'mail.kind': mail.kind, fate: 'sent' });
          return receipt;
        } catch (error) {
          telemetry.count('mails', { 'mail.kind': mail.kind, fate: error instanceof MailRefused ? 'refused' : 'failed' });
          throw error;
        }
      }),
  };
}

function providerMailer(email: EmailConfig, tables: Tables, now: () => number, credentials: CredentialFactory): Mailer {
  switch (email.transport) {
    case 'sendgrid':
      return sendGridMailer(email);
    case 'acs':
      return acsMailer(email, credentials);
    case 'smtp':
      return smtpMailer(email, now);
    case 'outbox':
      return outboxMailer(email.from, tables, now);
  }
}
