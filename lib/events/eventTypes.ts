/** The events guestpass tells a tenant's webhooks (and Event Grid) about; nothing else here, so the console and the CLI take it without zod. */
export const EVENT_TYPES = [
  'guest.invited',
  'guest.redeemed',
  'guest.blocked',
  'guest.unblocked',
  'guest.deleted',
  'signin.succeeded',
  'signin.refused',
  'mail.delivered',
  'mail.bounced',
  'mail.refused',
  'admin.key.created',
  'admin.key.revoked',
  'policy.changed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
