import type { QueueClient } from '@azure/storage-queue';
import type { Config } from '../config.js';
import { countedCall, type CredentialFactory } from './tables.js';

/**
 * The app's queues, on the storage account the Functions host itself uses
 * (`AzureWebJobsStorage`): what the app puts there is what the host's queue triggers
 * read. Their client library is a lazy bundle (lib/lazy/queue.ts), opened on first use.
 */
export interface Queues {
  /** The queue the send-mail trigger reads (MAIL_QUEUE_NAME): every mail leaves through it. */
  mail(): Promise<QueueClient>;
  /** The queue the deliver-webhook trigger reads (WEBHOOK_QUEUE_NAME): one message per event and endpoint, and each retry. */
  webhooks(): Promise<QueueClient>;
  /** Any queue on the same account by name: the poison queues, for their depth (lib/storage/queueDepth.ts). */
  named(name: string): Promise<QueueClient>;
}

/**
 * The Functions host's queue trigger reads a message as base64 of its bytes
 * (host.json `extensions.queues.messageEncoding`, base64 by default), and hands a
 * Node.js function the JSON it holds as an object; so every message is base64 of JSON.
 */
export function encodeMessage(body: unknown): string {
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
}

/** Sends one message; it counts as one storage transaction of the request (lib/storage/tables.ts). */
export async function enqueue(queue: QueueClient, body: unknown, options: { visibilityTimeoutSeconds?: number; timeToLiveSeconds?: number } = {}): Promise<void> {
  await countedCall(() =>
    queue.sendMessage(encodeMessage(body), {
      visibilityTimeout: options.visibilityTimeoutSeconds,
      messageTimeToLive: options.timeToLiveSeconds,
    }),
  );
}

/**
 * Opens the queues as the host would: a connection string (Azurite's, locally), or
 * the account's queue endpoint under the app's managed identity
 * (`AzureWebJobsStorage__accountName` / `__queueServiceUri` with `__clientId`).
 * Each queue is created once per process, on first use.
 */
export function openQueues(config: Config['queue'], credentialFactory?: CredentialFactory): Queues {
  const opened = new Map<string, Promise<QueueClient>>();
  const once = (name: string): Promise<QueueClient> => {
    let queue = opened.get(name);
    if (!queue) {
      queue = open(name);
      queue.catch(() => opened.delete(name));
      opened.set(name, queue);
    }
    return queue;
  };
  const open = async (name: string): Promise<QueueClient> => {
    const { QueueClient } = await import('../lazy/queue.js');
    const retryOptions = { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 1000, tryTimeoutInMs: config.timeoutSeconds * 1000 };
    let client: QueueClient;
    if (config.connectionString) {
      client = new QueueClient(config.connectionString, name, { retryOptions });
    } else {
      if (!credentialFactory) throw new Error('a queue endpoint needs a credential factory');
      client = new QueueClient(`${config.serviceUri!.replace(/\/+$/, '')}/${name}`, credentialFactory(config.managedIdentityClientId), { retryOptions });
    }
    await client.createIfNotExists();
    return client;
  };
  return {
    mail: () => once(config.mailQueueName),
    webhooks: () => once(config.webhookQueueName),
    named: (name) => once(name),
  };
}
