import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { fail } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { DAY_MS, dayTable } from '../storage/dayTables.js';
import { isStatus } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import type { EventType } from './eventTypes.js';
import type { CreateWebhookInput, UpdateWebhookInput } from './schemas.js';
import { eventsOf, WEBHOOK_ROW_PREFIX, type WebhookEntity } from './subscriptions.js';
import { checkWebhookUrl } from './webhookUrl.js';

/*
 * A tenant's webhook endpoints (rows `webhook_<id>` of its partition in the tenants
 * table, lib/events/subscriptions.ts) and what the management API shows of them.
 *
 * Each endpoint has its own signing secret in the Standard Webhooks form, `whsec_`
 * and 24 random bytes in base64, shown once when the endpoint is made and once per
 * rotation. guestpass must sign with it, so it is stored sealed (AES-256-GCM under a key
 * derived from CODE_PEPPER, the endpoint id as associated data), not hashed. After a
 * rotation the previous secret signs beside the new one for a day (the
 * webhook-signature header carries both), so a receiver can switch without losing one.
 */
export const PREVIOUS_SECRET_GRACE_MS = DAY_MS;
/** How many recent delivery attempts an endpoint's view lists. */
export const RECENT_DELIVERIES = 20;

export interface WebhookView {
  id: string;
  url: string;
  events: EventType[];
  description?: string;
  enabled: boolean;
  disabledReason?: string;
  failingSince?: string;
  createdAt: string;
  updatedAt: string;
  recentDeliveries?: DeliveryView[];
}

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: EventType;
  attempt: number;
  at: string;
  outcome: 'delivered' | 'failed';
  status?: number;
  error?: string;
  response?: string;
  durationMs: number;
  nextAttemptAt?: string;
}

/** A delivery attempt's row in the webhook day table of its day (PartitionKey = endpoint id). */
export type DeliveryRow = Omit<DeliveryView, 'id'> & { expiresAt: Date };

const sealingKeys = new Map<string, Buffer>();

function sealingKey(pepper: string): Buffer {
  let key = sealingKeys.get(pepper);
  if (!key) {
    key = createHmac('sha256', pepper).update('guestpass webhook secret sealing key').digest();
    sealingKeys.set(pepper, key);
  }
  return key;
}

export function sealSecret(pepper: string, endpointId: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(pepper), iv);
  cipher.setAAD(Buffer.from(endpointId));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function openSecret(pepper: string, endpointId: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(pepper), bytes.subarray(0, 12));
  decipher.setAAD(Buffer.from(endpointId));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
}

/** A new signing secret in the Standard Webhooks form. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function toView(id: string, row: WebhookEntity): WebhookView {
  return {
    id,
    url: row.url,
    events: eventsOf(row),
    ...(row.description ? { description: row.description } : {}),
    enabled: row.enabled,
    ...(row.disabledReason ? { disabledReason: row.disabledReason } : {}),
    ...(row.failingSince ? { failingSince: row.failingSince } : {}),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export async function readWebhookRow(rt: Runtime, tenantId: string, id: string): Promise<WebhookEntity & { etag: string }> {
  try {
    return await rt.tables.tenants.getEntity<WebhookEntity>(tenantId, `${WEBHOOK_ROW_PREFIX}${id}`);
  } catch (error) {
    if (isStatus(error, 404)) fail('webhook_not_found');
    throw error;
  }
}

export async function createWebhook(rt: Runtime, tenantId: string, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
  const url = await checkWebhookUrl(rt.config, input.url);
  const id = `ep_${randomUUID().replace(/-/g, '')}`;
  const secret = newWebhookSecret();
  const at = new Date(rt.now()).toISOString();
  const row: WebhookEntity = {
    url: url.href,
    events: JSON.stringify(input.events ? [...new Set(input.events)] : []),
    ...(input.description ? { description: input.description } : {}),
    sealedSecret: sealSecret(rt.config.code.pepper, id, secret),
    enabled: true,
    createdAt: at,
    updatedAt: at,
  };
  await rt.tables.tenants.createEntity({ partitionKey: tenantId, rowKey: `${WEBHOOK_ROW_PREFIX}${id}`, ...row });
  rt.tenantCache.invalidate(tenantId);
  return { ...toView(id, row), secret };
}

export async function listWebhooks(rt: Runtime, tenantRef: string): Promise<WebhookView[]> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  const views: WebhookView[] = [];
  const rows = rt.tables.tenants.listEntities<WebhookEntity>({
    queryOptions: { filter: `PartitionKey eq '${tenant.id}' and RowKey ge '${WEBHOOK_ROW_PREFIX}' and RowKey lt 'webhook\`'` },
  });
  for await (const row of rows) {
    const id = row.rowKey!.slice(WEBHOOK_ROW_PREFIX.length);
    views.push({ ...toView(id, row), recentDeliveries: await recentDeliveries(rt, id) });
  }
  return views.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function getWebhook(rt: Runtime, tenantId: string, id: string): Promise<WebhookView> {
  return { ...toView(id, await readWebhookRow(rt, tenantId, id)), recentDeliveries: await recentDeliveries(rt, id) };
}

/** Changes an endpoint; `enabled: true` turns one disabled for failing back on, with its failure clock reset. */
export async function updateWebhook(rt: Runtime, tenantId: string, id: string, input: UpdateWebhookInput): Promise<{ before: WebhookView; after: WebhookView }> {
  const row = await readWebhookRow(rt, tenantId, id);
  const url = input.url === undefined ? undefined : await checkWebhookUrl(rt.config, input.url);
  const next: WebhookEntity = {
    ...row,
    ...(url ? { url: url.href } : {}),
    ...(input.events !== undefined ? { events: JSON.stringify(input.events ? [...new Set(input.events)] : []) } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    updatedAt: new Date(rt.now()).toISOString(),
  };
  if (input.enabled === true) {
    next.enabled = true;
    delete next.disabledReason;
    delete next.failingSince;
  } else if (input.enabled === false) {
    next.enabled = false;
    next.disabledReason = 'disabled by an administrator';
  }
  const { etag, ...fields } = next as WebhookEntity & { etag: string; partitionKey?: string; rowKey?: string; timestamp?: string };
  delete (fields as { timestamp?: string }).timestamp;
  await rt.tables.tenants.updateEntity({ ...fields, partitionKey: tenantId, rowKey: `${WEBHOOK_ROW_PREFIX}${id}` }, 'Replace', { etag: row.etag });
  rt.tenantCache.invalidate(tenantId);
  return { before: toView(id, row), after: toView(id, next) };
}

/** A new secret for the endpoint; the previous one keeps signing beside it for PREVIOUS_SECRET_GRACE_MS. */
export async function rotateWebhookSecret(rt: Runtime, tenantId: string, id: string): Promise<{ id: string; secret: string; previousSecretValidUntil: string }> {
  const row = await readWebhookRow(rt, tenantId, id);
  const secret = newWebhookSecret();
  const until = new Date(rt.now() + PREVIOUS_SECRET_GRACE_MS).toISOString();
  await rt.tables.tenants.updateEntity(
    {
      partitionKey: tenantId,
      rowKey: `${WEBHOOK_ROW_PREFIX}${id}`,
      sealedSecret: sealSecret(rt.config.code.pepper, id, secret),
      previousSealedSecret: row.sealedSecret,
      previousSecretUntil: until,
      updatedAt: new Date(rt.now()).toISOString(),
    },
    'Merge',
    { etag: row.etag },
  );
  return { id, secret, previousSecretValidUntil: until };
}

export async function deleteWebhook(rt: Runtime, tenantId: string, id: string): Promise<WebhookView> {
  const row = await readWebhookRow(rt, tenantId, id);
  await rt.tables.tenants.deleteEntity(tenantId, `${WEBHOOK_ROW_PREFIX}${id}`);
  rt.tenantCache.invalidate(tenantId);
  return toView(id, row);
}

/** The secrets a delivery is signed with now: the current one, and the previous one during its grace. */
export function signingSecrets(rt: Runtime, id: string, row: WebhookEntity): string[] {
  const secrets = [openSecret(rt.config.code.pepper, id, row.sealedSecret)];
  if (row.previousSealedSecret && row.previousSecretUntil && Date.parse(row.previousSecretUntil) > rt.now()) {
    secrets.push(openSecret(rt.config.code.pepper, id, row.previousSealedSecret));
  }
  return secrets;
}

/** The newest delivery attempts of an endpoint, from the webhook tables of the last three days. */
async function recentDeliveries(rt: Runtime, endpointId: string): Promise<DeliveryView[]> {
  const found: DeliveryView[] = [];
  for (let back = 0; back < 3 && found.length < RECENT_DELIVERIES; back += 1) {
    const table = await dayTable(rt, 'webhooks', rt.now() - back * DAY_MS);
    const pages = table.listEntities<DeliveryRow>({ queryOptions: { filter: `PartitionKey eq '${endpointId}'` } }).byPage({ maxPageSize: RECENT_DELIVERIES });
    for await (const page of pages) {
      for (const row of page) {
        if (found.length >= RECENT_DELIVERIES) break;
        found.push({
          id: row.rowKey!,
          eventId: row.eventId,
          eventType: row.eventType,
          attempt: row.attempt,
          at: row.at,
          outcome: row.outcome,
          ...(row.status !== undefined ? { status: row.status } : {}),
          ...(row.error ? { error: row.error } : {}),
          ...(row.response ? { response: row.response } : {}),
          durationMs: row.durationMs,
          ...(row.nextAttemptAt ? { nextAttemptAt: row.nextAttemptAt } : {}),
        });
      }
      break;
    }
  }
  return found;
}
