import type { EmailConfig } from '../config.js';
import type { RenderedMail } from './templates.js';

export type MailKind = 'code' | 'invitation';
export type MailProvider = EmailConfig['transport'];

/** One mail, rendered, with the id guestpass tracks it by (a UUID) through the provider's events. */
export interface OutgoingMail extends RenderedMail {
  id: string;
  to: string;
  kind: MailKind;
  tenantId: string;
}

/** What the provider answered when it took the mail. */
export interface SendReceipt {
  /** The provider's own id of the message (SendGrid's X-Message-Id, ACS's operation id, the SMTP queue answer). */
  providerMessageId?: string;
}

/** The provider answered and would not take the mail; `reason` is its answer, for the log. */
export class MailRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'MailRefused';
  }
}

export interface Mailer {
  readonly provider: MailProvider;
  /** Resolves when the provider accepted the mail; throws MailRefused when it refused, anything else when it could not be reached. */
  send(mail: OutgoingMail): Promise<SendReceipt>;
}

/**
 * Headers of an automatic, transactional mail (RFC 3834 Auto-Submitted, so vacation
 * responders stay quiet; Exchange's X-Auto-Response-Suppress for the same) and never
 * a List-Unsubscribe: there is nothing to subscribe to.
 */
export const TRANSACTIONAL_HEADERS: Readonly<Record<string, string>> = {
  'Auto-Submitted': 'auto-generated',
  'X-Auto-Response-Suppress': 'All',
};

/** An RFC 5322 Message-ID under the sender's domain, from the mail's own id. */
export function messageIdFor(mail: OutgoingMail, from: string): string {
  return `<${mail.id}@${from.slice(from.lastIndexOf('@') + 1)}>`;
}

/**
 * A provider's client, made the first time it is needed, not when the app is imported
 * (cold start): `load` imports its lazy bundle (`await import('../lazy/x.js')`, see
 * lib/lazy/README.md) and builds the client. A failed load is tried again on the next mail.
 */
export function loadOnFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
