import type { EmailConfig } from '../config.js';
import type { Tables } from '../storage/tables.js';
import { acsMailer, type CredentialFactory } from './acs.js';
import type { Mailer } from './message.js';
import { outboxMailer } from './outbox.js';
import { sendGridMailer } from './sendgrid.js';
import { smtpMailer } from './smtp.js';

/**
 * The mail provider EMAIL_TRANSPORT names. Building it loads no provider library:
 * each one's client is a bundle of its own (lib/lazy/), imported on its first mail.
 */
export function createMailer(email: EmailConfig, tables: Tables, now: () => number, credentials: CredentialFactory): Mailer {
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
