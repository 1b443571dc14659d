import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import type { Runtime } from '../runtime.js';
import { enqueue } from '../storage/queues.js';
import { resolveTenant, type Tenant } from '../tenants/tenants.js';
import { mailIdTime, readMailFate, recordMailFate } from './delivery.js';
import { describeError, MailRefused, type MailKind } from './message.js';
import { renderCodeMail, renderInvitationMail, type RenderedMail } from './templates.js';

/**
 * Every mail leaves through the mail queue (MAIL_QUEUE_NAME): a request only queues
 * it, and the send-mail trigger (functions/sendMail.ts) hands it to the provider. A
 * slow, failing or refusing provider then costs the guest a late mail, never an error,
 * and never touches another request (shared/DESIGN.md §5).
 *
 * What a queued message holds in the clear is only what the trigger must know before
 * it opens the rest: the mail's id (its record's key), tenant, kind and until when it
 * is worth sending. The recipient, the code and the links are sealed (AES-256-GCM under
 * a key derived from CODE_PEPPER, the mail id as associated data), so the queue — on
 * the host's storage account, readable by whoever reads that account — holds no
 * usable code or address.
 */
export const MAIL_MESSAGE_VERSION = 1;

/** A queued mail as the trigger reads it (base64 of this JSON, lib/storage/queues.ts). */
export const queuedMailSchema = lazySchema(() =>
  z.object({
    v: z.literal(MAIL_MESSAGE_VERSION),
    id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    tenantId: z.string().min(1).max(100),
    kind: z.enum(['code', 'invitation']),
    /** Epoch ms after which the mail is dropped unsent: a code mail's code has expired. */
    notAfter: z.number().int().positive().optional(),
    sealed: z.string().min(1).max(48_000),
  }),
);
export type QueuedMail = z.infer<typeof queuedMailSchema>;

/** A code mail's sealed part. `to` is null for an address that is not a guest: the trigger drops it unsent. */
const codeContentSchema = lazySchema(() => z.object({ to: z.string().nullable(), code: z.string(), locale: z.string().optional() }));
const invitationContentSchema = lazySchema(() =>
  z.object({
    to: z.string(),
    inviteRedeemUrl: z.string(),
    invitedUserDisplayName: z.string().optional(),
    customizedMessageBody: z.string().optional(),
    locale: z.string().optional(),
  }),
);
export type CodeMailContent = z.infer<typeof codeContentSchema>;
export type InvitationMailContent = z.infer<typeof invitationContentSchema>;

const sealingKeys = new Map<string, Buffer>();

/** The queue's sealing key: an HMAC of CODE_PEPPER under a fixed label, so the pepper itself seals nothing. */
function sealingKey(pepper: string): Buffer {
  let key = sealingKeys.get(pepper);
  if (!key) {
    key = createHmac('sha256', pepper).update('guestpass mail queue sealing key').digest();
    sealingKeys.set(pepper, key);
  }
  return key;
}

function seal(pepper: string, mailId: string, content: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(pepper), iv);
  cipher.setAAD(Buffer.from(mailId));
  const body = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The sealed content, or undefined when it was not sealed for this mail under this pepper. */
function unseal(pepper: string, mailId: string, sealed: string): unknown {
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(pepper), bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(mailId));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Queues a code mail. send-code queues one for every address alike (`to` null for an
 * address that is not a guest, which the trigger drops): the same work and the same
 * time, so neither the answer nor its timing tells who is invited.
 */
export async function queueCodeMail(rt: Runtime, mail: { id: string; tenantId: string; notAfter: number; content: CodeMailContent }): Promise<void> {
  await queueMail(rt, { id: mail.id, tenantId: mail.tenantId, kind: 'code', notAfter: mail.notAfter }, mail.content);
}

export async function queueInvitationMail(rt: Runtime, mail: { id: string; tenantId: string; content: InvitationMailContent }): Promise<void> {
  await queueMail(rt, { id: mail.id, tenantId: mail.tenantId, kind: 'invitation' }, mail.content);
}

async function queueMail(rt: Runtime, head: Omit<QueuedMail, 'v' | 'sealed'>, content: CodeMailContent | InvitationMailContent): Promise<void> {
  const message: QueuedMail = { v: MAIL_MESSAGE_VERSION, ...head, sealed: seal(rt.config.code.pepper, head.id, content) };
  // A mail not sent within the retention of its record would have nowhere to record its fate.
  const timeToLiveSeconds = Math.min(7 * 86_400, rt.config.signInLogRetentionDays * 86_400);
  await enqueue(await rt.queues.mail(), message, { timeToLiveSeconds });
}

/** A message the trigger cannot read: thrown, so the host retries it and then moves it to the poison queue. */
export class UnreadableMailMessage extends Error {
  constructor(problem: string) {
    super(`unreadable mail message: ${problem}`);
    this.name = 'UnreadableMailMessage';
  }
}

/** What the trigger did with one message. */
export type MailOutcome =
  | { fate: 'sent'; id: string; kind: MailKind }
  | { fate: 'refused'; id: string; kind: MailKind; reason: string }
  | { fate: 'dropped'; id: string; kind: MailKind; reason: string }
  /** Sent or settled by an earlier delivery of the same message (the host delivers at least once). */
  | { fate: 'duplicate'; id: string; kind: MailKind }
  /** A code mail for an address that is not a guest: nothing to send. */
  | { fate: 'none'; id: string; kind: MailKind };

/** The message as the trigger was handed it: the JSON object the host parsed, or its text. */
export function readQueuedMail(payload: unknown): QueuedMail {
  let value = payload;
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
    } catch {
      throw new UnreadableMailMessage('not JSON');
    }
  }
  const parsed = queuedMailSchema.safeParse(value);
  if (!parsed.success) throw new UnreadableMailMessage(parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '));
  return parsed.data;
}

/**
 * The send-mail trigger's work for one message, at most once per mail: a mail whose
 * record says it was settled is not sent again; a code mail whose code has expired, or
 * whose tenant is gone, is dropped unsent; a provider's refusal for the recipient is
 * recorded with its reason and not retried. An outage (no answer, a timeout, a 5xx, an
 * answer that cannot be read) is recorded as retrying and thrown: the host makes the
 * message visible again after `visibilityTimeout` and, after `maxDequeueCount`
 * tries, moves it to the poison queue (host.json `extensions.queues`).
 */
export async function sendQueuedMail(rt: Runtime, message: QueuedMail, dequeueCount: number): Promise<MailOutcome> {
  const { id, kind } = message;
  if (mailIdTime(id) === undefined) throw new UnreadableMailMessage('id is not a mail id');
  const content = unseal(rt.config.code.pepper, id, message.sealed);
  if (content === undefined) throw new UnreadableMailMessage('sealed part does not open under this CODE_PEPPER');
  const mail = { id, tenantId: message.tenantId, kind };

  const settled = await readMailFate(rt, id);
  if (settled && settled.status !== 'retrying') return { fate: 'duplicate', id, kind };

  let rendered: RenderedMail & { to: string | null };
  try {
    rendered = await renderQueuedMail(rt, message, content);
  } catch (error) {
    if (!(error instanceof MailNotWorthSending)) throw error;
    await recordMailFate(rt, mail, 'dropped', { reason: error.message });
    return { fate: 'dropped', id, kind, reason: error.message };
  }
  if (rendered.to === null) return { fate: 'none', id, kind };

  try {
    const receipt = await rt.mailer.send({ ...mail, ...rendered, to: rendered.to });
    // The mail is out: a record that cannot be written (storage down) must not make the
    // host send it again; the log then shows it queued, never twice received.
    await recordMailFate(rt, mail, 'sent', { providerMessageId: receipt.providerMessageId, attempts: dequeueCount }).catch(() => undefined);
    return { fate: 'sent', id, kind };
  } catch (error) {
    if (error instanceof MailRefused) {
      await recordMailFate(rt, mail, 'refused', { reason: error.reason, attempts: dequeueCount });
      return { fate: 'refused', id, kind, reason: error.reason };
    }
    const reason = `provider not reached: ${describeError(error)}`;
    await recordMailFate(rt, mail, 'retrying', { reason, attempts: dequeueCount }).catch(() => undefined);
    throw new Error(`mail ${id}: ${reason}`, { cause: error });
  }
}

class MailNotWorthSending extends Error {}

async function renderQueuedMail(rt: Runtime, message: QueuedMail, content: unknown): Promise<RenderedMail & { to: string | null }> {
  if (message.notAfter !== undefined && message.notAfter <= rt.now()) throw new MailNotWorthSending('its code expired before it could be sent');
  let tenant: Tenant;
  try {
    tenant = (await resolveTenant(rt, message.tenantId)).tenant;
  } catch (error) {
    if ((error as { code?: string }).code === 'tenant_not_found') throw new MailNotWorthSending('its tenant was deleted');
    throw error;
  }
  if (message.kind === 'code') {
    const parsed = codeContentSchema.safeParse(content);
    if (!parsed.success) throw new UnreadableMailMessage('sealed code mail is malformed');
    if (parsed.data.to === null) return { to: null, subject: '', text: '', html: '' };
    const validMinutes = Math.round(rt.config.code.ttlSeconds / 60);
    return { to: parsed.data.to, ...renderCodeMail({ code: parsed.data.code, tenant, validMinutes, locale: parsed.data.locale }) };
  }
  const parsed = invitationContentSchema.safeParse(content);
  if (!parsed.success) throw new UnreadableMailMessage('sealed invitation mail is malformed');
  const { to, ...rest } = parsed.data;
  return { to, ...renderInvitationMail({ tenant, ...rest }) };
}

/**
 * The send-mail trigger's work for every message in the queue now, in this process: for a
 * runtime no host serves (tests of lib operations, the benchmark's in-process runtimes).
 * Each message is handled as functions/sendMail.ts handles it, then deleted.
 */
export async function sendQueuedMailsNow(rt: Runtime): Promise<void> {
  const queue = await rt.queues.mail();
  for (;;) {
    const { receivedMessageItems: batch } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
    if (batch.length === 0) return;
    for (const message of batch) {
      const payload = Buffer.from(message.messageText, 'base64').toString('utf8');
      await sendQueuedMail(rt, readQueuedMail(payload), message.dequeueCount);
      await queue.deleteMessage(message.messageId, message.popReceipt);
    }
  }
}
