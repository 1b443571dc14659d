import type { TokenCredential } from '@azure/core-auth';
import type { EmailClient, EmailMessage } from '@azure/communication-email';
import type { EmailConfig } from '../config.js';
import { describeError, loadOnFirstUse, MailRefused, TRANSACTIONAL_HEADERS, type Mailer } from './message.js';

type AcsSettings = Extract<EmailConfig, { transport: 'acs' }>;
export type CredentialFactory = (clientId?: string) => TokenCredential;

/** How long a send waits for ACS to finish the operation before taking "queued" as accepted. */
const STATUS_WAIT_MS = 2000;

/**
 * Azure Communication Services Email. In Azure the app's managed identity signs the
 * requests (ACS_ENDPOINT, Entra ID token; the identity holds "Communication and Email
 * Service Owner" on the resource, see infra/); locally a connection string's access key
 * signs them (HMAC-SHA256, communication-common's access key policy).
 */
async function loadAcs(email: AcsSettings, credentials: CredentialFactory): Promise<EmailClient> {
  const { EmailClient } = await import('../lazy/acs.js');
  const options = { retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 } };
  if (email.connectionString) return new EmailClient(email.connectionString, options);
  return new EmailClient(email.endpoint!, credentials(email.managedIdentityClientId), options);
}

export function acsMailer(email: AcsSettings, credentials: CredentialFactory): Mailer {
  const client = loadOnFirstUse(() => loadAcs(email, credentials));
  return {
    provider: 'acs',
    async send(mail) {
      const message: EmailMessage = {
        senderAddress: email.from,
        recipients: { to: [{ address: mail.to }] },
        content: { subject: mail.subject, plainText: mail.text, html: mail.html },
        headers: { ...TRANSACTIONAL_HEADERS },
        // Transactional: no rewritten links or tracking pixel even if the resource turns engagement tracking on.
        disableUserEngagementTracking: true,
      };
      const abort = AbortSignal.timeout(email.timeoutSeconds * 1000);
      let poller;
      try {
        // The mail's own id is the operation id: Event Grid's delivery report names it as messageId.
        poller = await (await client()).beginSend(message, { operationId: mail.id, updateIntervalInMs: 250, abortSignal: abort });
      } catch (error) {
        throw refusalOf(error);
      }
      // 202: ACS has queued it. A refusal it finds at once (a suppressed or invalid recipient)
      // shows in the status operation within moments; one found later reaches us as a delivery report.
      try {
        const result = await poller.pollUntilDone({ abortSignal: AbortSignal.any([abort, AbortSignal.timeout(STATUS_WAIT_MS)]) });
        if (result.status !== 'Succeeded') throw new MailRefused(`ACS operation ${result.status}${result.error?.message ? `: ${result.error.message}` : ''}`);
      } catch (error) {
        if (error instanceof MailRefused) throw error;
        if ((error as Error)?.name !== 'AbortError') throw new MailRefused(`ACS operation failed: ${describeError(error)}`);
      }
      return { providerMessageId: mail.id };
    },
  };
}

function refusalOf(error: unknown): unknown {
  const status = (error as { statusCode?: number }).statusCode;
  // An operation ACS answered and then failed (core-lro's "The long-running operation has
  // failed", with ACS's reason, say a suppressed recipient): ACS's decision about this mail.
  if (typeof status !== 'number' && /long-running operation has failed/i.test(describeError(error))) return new MailRefused(`ACS operation failed: ${describeError(error)}`);
  // No answer, or the service's own failure (5xx): an outage, retried.
  if (typeof status !== 'number' || status >= 500) return error;
  return new MailRefused(`ACS answered ${status}: ${describeError(error)}`);
}
