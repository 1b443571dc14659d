import type { MailService as SendGridMailService } from '@sendgrid/mail';
import type { Config } from './config.js';
import { GuestpassError } from './errors.js';
import type { RenderedMail } from './mailTemplates.js';
import { newestFirstKey, type Tables } from './storage.js';
import { dayTableOf } from './storage/dayTables.js';
import { randomUUID } from 'node:crypto';

export interface OutgoingMail extends RenderedMail {
  to: string;
  /** What the mail is for, e.g. `code` or `invitation`; a SendGrid category. */
  kind: 'code' | 'invitation';
  tenantId: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
}

export interface OutboxEntry extends RenderedMail {
  id: string;
  to: string;
  from: string;
  kind: string;
  tenantId: string;
  sentAt: string;
}

export function createMailer(email: Config['email'], tables: Tables, now: () => number): Mailer {
  return email.transport === 'sendgrid' ? sendGridMailer(email) : outboxMailer(email.from, tables, now);
}

/**
 * The SendGrid client (and axios under it) is loaded on the first mail, not when the
 * app is imported: it was the largest single part of a cold start, and many instances
 * answer session-checks without ever mailing. It is a bundle of its own (lib/lazy/).
 */
async function loadSendGrid(email: Extract<Config['email'], { transport: 'sendgrid' }>): Promise<SendGridMailService> {
  const { createSendGridService } = await import('./lazy/sendgrid.js');
  return createSendGridService(email);
}

function sendGridMailer(email: Extract<Config['email'], { transport: 'sendgrid' }>): Mailer {
  let loaded: Promise<SendGridMailService> | undefined;
  return {
    async send(mail) {
      loaded ??= loadSendGrid(email).catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      const service = await loaded;
      try {
        await service.send({
          to: mail.to,
          from: { email: email.from, name: email.fromName },
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          categories: ['guestpass', mail.kind],
          trackingSettings: { clickTracking: { enable: false, enableText: false } },
        });
      } catch (error) {
        throw new GuestpassError('email_failed', { cause: new Error(describeSendGridFailure(error)) });
      }
    },
  };
}

function describeSendGridFailure(error: unknown): string {
  const status = (error as { code?: number | string }).code;
  return `SendGrid send failed${status ? ` (${status})` : ''}`;
}

/** How long the development outbox keeps a mail before the cleanup timer deletes it. */
export const OUTBOX_RETENTION_MS = 86_400_000;

/** Development transport: mail lands in a table that GET /api/dev/outbox lists. */
function outboxMailer(from: string, tables: Tables, now: () => number): Mailer {
  return {
    async send(mail) {
      const sentAtMs = now();
      const id = randomUUID();
      const outbox = await dayTableOf(tables, 'outbox', sentAtMs);
      await outbox.createEntity({
        partitionKey: 'outbox',
        rowKey: newestFirstKey(sentAtMs, id),
        id,
        to: mail.to,
        from,
        kind: mail.kind,
        tenantId: mail.tenantId,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        sentAt: new Date(sentAtMs).toISOString(),
        expiresAt: new Date(sentAtMs + OUTBOX_RETENTION_MS),
      });
    },
  };
}

/** The outbox of today and of yesterday (its retention), newest first. */
export async function listOutbox(tables: Tables, filter: { to?: string; limit: number }, now = Date.now()): Promise<OutboxEntry[]> {
  const entries: OutboxEntry[] = [];
  for (const day of [now, now - OUTBOX_RETENTION_MS]) {
    const table = await dayTableOf(tables, 'outbox', day);
    const query = table.listEntities<OutboxEntry & { expiresAt?: Date }>({
      queryOptions: { filter: filter.to ? `PartitionKey eq 'outbox' and to eq '${filter.to.replace(/'/g, "''")}'` : `PartitionKey eq 'outbox'` },
    });
    for await (const row of query) {
      if (row.expiresAt instanceof Date && row.expiresAt.getTime() <= now) continue;
      entries.push({
        id: row.id, to: row.to, from: row.from, kind: row.kind, tenantId: row.tenantId,
        subject: row.subject, text: row.text, html: row.html, sentAt: row.sentAt,
      });
      if (entries.length >= filter.limit) return entries;
    }
  }
  return entries;
}
