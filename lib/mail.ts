// Mail moved to lib/mail/; this name stays for existing imports.
export { createMailer } from './mail/transport.js';
export { listOutbox, findOutboxMail, OUTBOX_RETENTION_MS, type OutboxEntry } from './mail/outbox.js';
export type { Mailer, OutgoingMail, SendReceipt } from './mail/message.js';
