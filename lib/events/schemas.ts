import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { tenantParams } from '../schemas.js';
import { EVENT_TYPES } from './eventTypes.js';

/* Request and response shapes of the webhook routes. */

export { EVENT_TYPES, type EventType } from './eventTypes.js';

const isoDate = lazySchema(() => z.iso.datetime({ offset: true }));
const eventType = lazySchema(() => z.enum(EVENT_TYPES));

export const createWebhookBody = lazySchema(() =>
  z.strictObject({
    url: z.string().trim().min(1).max(2048),
    events: z.array(eventType).min(1).max(EVENT_TYPES.length).optional().meta({ description: 'The event types to deliver; all of them when absent.' }),
    description: z.string().trim().max(256).optional(),
  }),
);
export type CreateWebhookInput = z.infer<typeof createWebhookBody>;

export const updateWebhookBody = lazySchema(() =>
  z.strictObject({
    url: z.string().trim().min(1).max(2048).optional(),
    events: z.array(eventType).min(1).max(EVENT_TYPES.length).nullable().optional().meta({ description: 'null: every event type.' }),
    description: z.string().trim().max(256).optional(),
    enabled: z.boolean().optional().meta({ description: 'true turns an endpoint that was disabled for failing back on.' }),
  }),
);
export type UpdateWebhookInput = z.infer<typeof updateWebhookBody>;

export const webhookParams = lazySchema(() => tenantParams.extend({ id: z.string().regex(/^ep_[0-9a-f]{32}$/, 'must be a webhook id (ep_…)') }));

export const webhookDeliveryView = lazySchema(() =>
  z.object({
    id: z.string(),
    eventId: z.string(),
    eventType: eventType,
    attempt: z.number().int(),
    at: isoDate,
    outcome: z.enum(['delivered', 'failed']),
    status: z.number().int().optional().meta({ description: "The receiver's HTTP status, when it answered." }),
    error: z.string().optional().meta({ description: 'Why the attempt failed: a timeout, a refused redirect, an address not allowed, a status.' }),
    response: z.string().optional().meta({ description: "The start of the receiver's answer (at most 1 KiB)." }),
    durationMs: z.number().int(),
    nextAttemptAt: isoDate.optional(),
  }),
);

export const webhookView = lazySchema(() =>
  z.object({
    id: z.string(),
    url: z.string(),
    events: z.array(eventType),
    description: z.string().optional(),
    enabled: z.boolean(),
    disabledReason: z.string().optional(),
    failingSince: isoDate.optional(),
    createdAt: isoDate,
    updatedAt: isoDate,
    recentDeliveries: z.array(webhookDeliveryView).optional(),
  }),
);

export const createdWebhookResponse = lazySchema(() =>
  webhookView.extend({ secret: z.string().meta({ description: 'whsec_<base64>: the signing secret, shown only here and on rotation.' }) }),
);
export const webhookListResponse = lazySchema(() => z.object({ value: z.array(webhookView) }));
export const rotatedSecretResponse = lazySchema(() =>
  z.object({ id: z.string(), secret: z.string(), previousSecretValidUntil: isoDate.meta({ description: 'Until then deliveries are signed with both secrets.' }) }),
);
