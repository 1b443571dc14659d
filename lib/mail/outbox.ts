import type { Tables } from '../storage/tables.js';
import { escapeOData, newestFirstKey } from '../storage/tables.js';
import { dayTableOf } from '../storage/dayTables.js';
import { messageIdFor, TRANSACTIONAL_HEADERS, type Mailer } from './message.js';
import type { RenderedMail } from './templates.js';

export interface OutboxEntry extends RenderedMail {
  id: string;
  to: string;
  from: string;
  kind: string;
  tenantId: string;
  sentAt: string;
  /** The header fields a real transport would have sent, as SMTP would write them. */
  headers: Record<string, string>;
}

/** How long the development outbox keeps a mail before the cleanup timer deletes it. */
export const OUTBOX_RETENTION_MS = 86_400_000;

/** Development transport: mail lands in the outbox table of its day (dropped a day later) that GET /api/dev/outbox lists. */
export function outboxMailer(from: string, tables: Tables, now: () => number): Mailer {
  return {
    provider: 'outbox',
    async send(mail) {
      const sentAtMs = now();
      const headers = { Date: new Date(sentAtMs).toUTCString(), 'Message-ID': messageIdFor(mail, from), ...TRANSACTIONAL_HEADERS };
      const outbox = await dayTableOf(tables, 'outbox', sentAtMs);
      await outbox.createEntity({
        partitionKey: 'outbox',
        rowKey: newestFirstKey(sentAtMs, mail.id),
        id: mail.id,
        to: mail.to,
        from,
        kind: mail.kind,
        tenantId: mail.tenantId,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        headers: JSON.stringify(headers),
        sentAt: new Date(sentAtMs).toISOString(),
        expiresAt: new Date(sentAtMs + OUTBOX_RETENTION_MS),
      });
      return { providerMessageId: mail.id };
    },
  };
}

type OutboxRow = Omit<OutboxEntry, 'headers'> & { headers?: string };

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id, to: row.to, from: row.from, kind: row.kind, tenantId: row.tenantId,
    subject: row.subject, text: row.text, html: row.html, sentAt: row.sentAt,
    headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
  };
}

type StoredOutboxRow = OutboxRow & { expiresAt?: Date };

/** The outbox rows of today and of yesterday (its retention) that match `filter`, newest first, unexpired. */
async function* outboxRows(tables: Tables, filter: string, now: number): AsyncGenerator<OutboxRow> {
  for (const day of [now, now - OUTBOX_RETENTION_MS]) {
    const table = await dayTableOf(tables, 'outbox', day);
    for await (const row of table.listEntities<StoredOutboxRow>({ queryOptions: { filter } })) {
      if (row.expiresAt instanceof Date && row.expiresAt.getTime() <= now) continue;
      yield row;
    }
  }
}

export async function listOutbox(tables: Tables, filter: { to?: string; limit: number }, now = Date.now()): Promise<OutboxEntry[]> {
  const entries: OutboxEntry[] = [];
  const query = filter.to ? `PartitionKey eq 'outbox' and to eq '${escapeOData(filter.to)}'` : `PartitionKey eq 'outbox'`;
  for await (const row of outboxRows(tables, query, now)) {
    entries.push(toEntry(row));
    if (entries.length >= filter.limit) break;
  }
  return entries;
}

/** One outbox mail by its id, for the development HTML view. */
export async function findOutboxMail(tables: Tables, id: string, now = Date.now()): Promise<OutboxEntry | undefined> {
  for await (const row of outboxRows(tables, `PartitionKey eq 'outbox' and id eq '${escapeOData(id)}'`, now)) return toEntry(row);
  return undefined;
}
