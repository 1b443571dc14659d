import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import type { Config } from '../config.js';

/**
 * The SendGrid mail service (with axios and mime-db under it, about 550 KiB bundled),
 * loaded on the first mail: many instances answer session-checks without ever mailing.
 */
export function createSendGridService(email: Extract<Config['email'], { transport: 'sendgrid' }>): MailService {
  // Both packages export a default instance and, by name, the class (which their typings hide).
  const client = new (Client as unknown as new () => Client)();
  client.setApiKey(email.apiKey);
  if (email.baseUrl) client.setDefaultRequest('baseUrl', email.baseUrl);
  const service = new (MailService as unknown as new () => MailService)();
  service.setClient(client);
  service.setTimeout(email.timeoutSeconds * 1000);
  return service;
}
