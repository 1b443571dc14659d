/**
 * The metrics guestpass records (OpenTelemetry instruments, lib/telemetry/), with the
 * attributes each carries. Alert rules in infra/modules/alerts.bicep query them by these
 * names; test/infra.test.ts holds the two together. Attributes are ids and small enums:
 * never an address, a code, a token or a key.
 */
export const METRICS = {
  /** Sign-ins by outcome: `succeeded` or `refused`. */
  signIns: { name: 'guestpass.signins', unit: '{signin}', attributes: ['tenant.id', 'outcome'] },
  /** Refused send-code and verify-code calls, by the error code answered. */
  refusals: { name: 'guestpass.refusals', unit: '{call}', attributes: ['tenant.id', 'guestpass.event', 'reason'] },
  /** Step-up challenges: `issued` (a 428) and `solved` (a call that carried a valid solution). */
  stepUps: { name: 'guestpass.stepups', unit: '{challenge}', attributes: ['tenant.id', 'stage'] },
  /** Codes compared at verify-code, by `result`: `match` or `wrong`. */
  codesCompared: { name: 'guestpass.codes.compared', unit: '{code}', attributes: ['tenant.id', 'result'] },
  /** Mails by fate: `sent`, `refused`, `dropped`, `delivered`, `bounced`. */
  mails: { name: 'guestpass.mails', unit: '{mail}', attributes: ['mail.kind', 'fate'] },
  /** Approximate messages waiting in a queue (its -poison queue too). */
  queueDepth: { name: 'guestpass.queue.depth', unit: '{message}', attributes: ['queue'] },
  /** Age of the oldest message waiting in a queue. */
  queueOldestAge: { name: 'guestpass.queue.oldest_age', unit: 's', attributes: ['queue'] },
  /** Webhook delivery attempts by `outcome`: `delivered` or `failed`. */
  webhookDeliveries: { name: 'guestpass.webhook.deliveries', unit: '{attempt}', attributes: ['tenant.id', 'webhook.endpoint_id', 'outcome'] },
} as const;

export type MetricKey = keyof typeof METRICS;
