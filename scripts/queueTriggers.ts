import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { InvocationContext, type StorageQueueFunctionOptions } from '@azure/functions';
import { QueueClient, type DequeuedMessageItem } from '@azure/storage-queue';
import { ConfigError } from '../lib/config.js';

/**
 * The Functions host's queue trigger, for the local host: the listener and message
 * processor of the WebJobs Storage extension, rule by rule. Each rule names the file it
 * follows in Azure/azure-webjobs-sdk (src/Microsoft.Azure.WebJobs.Extensions.Storage/Queues/,
 * "Queues/" below; the 5.x extension the v4 bundle loads, in Azure/azure-sdk-for-net, keeps them).
 */
export interface QueueRegistration {
  name: string;
  options: StorageQueueFunctionOptions;
}

/** host.json `extensions.queues`, with the defaults of Queues/Config/QueuesOptions.cs. */
export interface QueuesOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: 'base64' | 'none';
}

/** Queues/Listeners/QueuePollingIntervals.cs: the floor of every polling delay, and the default ceiling. */
export const MINIMUM_POLLING_MS = 100;
export const DEFAULT_MAX_POLLING_MS = 60_000;
/**
 * Queues/Listeners/QueueListener.cs: a message is taken invisible for 10 minutes and
 * its invisibility renewed at half of that while the function runs.
 */
export const IN_FLIGHT_VISIBILITY_MS = 10 * 60_000;

/** A .NET TimeSpan as host.json writes it: `[d.]hh:mm:ss[.fffffff]`. */
export function parseTimeSpan(value: unknown, setting: string): number {
  const match = typeof value === 'string' ? /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(value.trim()) : null;
  if (!match) throw new ConfigError(setting, `is invalid: ${JSON.stringify(value)} is not a TimeSpan such as "00:00:30"`);
  const [, days, hours, minutes, secs, fraction] = match;
  return ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(secs) * 1000 + Math.round(Number(`0.${fraction ?? 0}`) * 1000);
}

/**
 * The app settings that override host.json: `AzureFunctionsJobHost__a__b` sets `a.b`
 * (the host reads them as configuration over host.json; keys are case-insensitive).
 */
export function hostJsonOverrides(hostJson: Record<string, unknown>, settings: Record<string, string | undefined>): Record<string, unknown> {
  const merged = structuredClone(hostJson);
  for (const [name, value] of Object.entries(settings)) {
    const match = /^AzureFunctionsJobHost__(.+)$/i.exec(name);
    if (!match || value === undefined) continue;
    const path = match[1]!.split('__');
    let node = merged as Record<string, unknown>;
    for (const key of path.slice(0, -1)) {
      const existing = Object.keys(node).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key;
      if (typeof node[existing] !== 'object' || node[existing] === null) node[existing] = {};
      node = node[existing] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    node[Object.keys(node).find((k) => k.toLowerCase() === last.toLowerCase()) ?? last] = value;
  }
  return merged;
}

function pick(section: Record<string, unknown>, key: string): unknown {
  const found = Object.keys(section).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : section[found];
}

/** `extensions.queues` of host.json (after app-setting overrides), checked as QueuesOptions.cs checks it. */
export function queuesOptions(hostJson: Record<string, unknown>): QueuesOptions {
  const extensions = (pick(hostJson, 'extensions') ?? {}) as Record<string, unknown>;
  const queues = (pick(extensions, 'queues') ?? {}) as Record<string, unknown>;
  const int = (key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = pick(queues, key);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`host.json extensions.queues.${key}`, `is invalid: must be an integer from ${min} to ${max}`);
    return value;
  };
  // "Azure Queues currently limits the number of messages retrieved to 32."
  const batchSize = int('batchSize', 16, 1, 32);
  const maxPolling = pick(queues, 'maxPollingInterval');
  const maxPollingIntervalMs = maxPolling === undefined ? DEFAULT_MAX_POLLING_MS : parseTimeSpan(maxPolling, 'host.json extensions.queues.maxPollingInterval');
  if (maxPollingIntervalMs < MINIMUM_POLLING_MS) throw new ConfigError('host.json extensions.queues.maxPollingInterval', `must not be less than ${MINIMUM_POLLING_MS} ms`);
  const visibility = pick(queues, 'visibilityTimeout');
  const encoding = String(pick(queues, 'messageEncoding') ?? 'base64').toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') throw new ConfigError('host.json extensions.queues.messageEncoding', 'must be base64 or none');
  return {
    batchSize,
    // "if this hasn't been set explicitly, default it": (BatchSize / 2) * ProcessorCount.
    newBatchThreshold: int('newBatchThreshold', Math.floor(batchSize / 2) * availableParallelism(), 0),
    maxPollingIntervalMs,
    visibilityTimeoutMs: visibility === undefined ? 0 : parseTimeSpan(visibility, 'host.json extensions.queues.visibilityTimeout'),
    maxDequeueCount: int('maxDequeueCount', 5, 1),
    messageEncoding: encoding,
  };
}

/**
 * Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Timers/RandomizedExponentialBackoffStrategy.cs:
 * after a poll that found messages the next comes after the minimum; after an empty one
 * the delay grows by minimum x 2^(n-1) x a random factor in [0.8, 1.2), up to the maximum.
 */
export function backoffStrategy(minimumMs: number, maximumMs: number, random: () => number = Math.random): (foundMessages: boolean) => number {
  let current = minimumMs;
  let exponent = 1;
  return (foundMessages) => {
    if (foundMessages) {
      current = minimumMs;
      exponent = 1;
    } else if (current !== maximumMs) {
      const next = minimumMs + (0.8 + random() * 0.4) * 2 ** (exponent - 1) * minimumMs;
      if (next < maximumMs) {
        current = next;
        exponent += 1;
      } else {
        current = maximumMs;
      }
    }
    return current;
  };
}

/** `%NAME%` binding expressions in a trigger's settings, resolved from the app settings as the host does. */
export function resolveBindingExpression(value: string, settings: Record<string, string | undefined>, functionName: string): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = settings[name];
    if (!resolved) throw new ConfigError(name, `is not set: function ${functionName} names its queue '%${name}%', which does not resolve to a value`);
    return resolved;
  });
}

/** host.json of the app the local host serves (the repository's root, beside dist/). */
export function readHostJson(root: string): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return JSON.parse(require('node:fs').readFileSync(require('node:path').join(root, 'host.json'), 'utf8')) as Record<string, unknown>;
}

export interface QueueListenerOptions {
  settings: Record<string, string | undefined>;
  hostJson: Record<string, unknown>;
  log?: (line: string) => void;
  /**
   * How long a message in hand stays invisible (the host's fixed 10 minutes). Only a test
   * that kills the host mid-batch shortens it, through LOCAL_HOST_QUEUE_LEASE_SECONDS, so
   * the messages the dead host held come back within the test rather than 10 minutes later.
   */
  inFlightVisibilityMs?: number;
}

export interface RunningQueueListeners {
  /** Stops polling and waits for the messages in hand to finish (as the host drains on shutdown). */
  stop(): Promise<void>;
}

/**
 * Runs each queue-triggered function as the host's QueueListener does: a batch of up to
 * batchSize messages taken invisible for 10 minutes, run concurrently, the next batch
 * fetched once fewer than newBatchThreshold are still running; polling backs off when
 * the queue is empty. A message whose function succeeds is deleted; one that fails is
 * made visible again after visibilityTimeout, and at maxDequeueCount moved to the
 * `<queue>-poison` queue (Queues/QueueProcessor.cs).
 */
export function startQueueListeners(registrations: QueueRegistration[], options: QueueListenerOptions): RunningQueueListeners {
  const log = options.log ?? ((line: string) => console.log(line));
  const queues = queuesOptions(hostJsonOverrides(options.hostJson, options.settings));
  const lease = options.inFlightVisibilityMs ?? IN_FLIGHT_VISIBILITY_MS;
  const listeners = registrations.map((registration) => listen(registration, queues, options.settings, log, lease));
  return {
    async stop() {
      await Promise.all(listeners.map((listener) => listener.stop()));
    },
  };
}

function connectionString(connection: string | undefined, settings: Record<string, string | undefined>): string {
  const name = connection || 'AzureWebJobsStorage';
  const value = settings[name];
  if (!value) throw new ConfigError(name, 'is not set: the local host reads queues through a storage connection string (Azurite\'s, UseDevelopmentStorage=true)');
  return value;
}

function listen(registration: QueueRegistration, queues: QueuesOptions, settings: Record<string, string | undefined>, log: (line: string) => void, lease: number): { stop(): Promise<void> } {
  const queueName = resolveBindingExpression(registration.options.queueName, settings, registration.name);
  const connection = connectionString(registration.options.connection, settings);
  const queue = new QueueClient(connection, queueName);
  const poison = new QueueClient(connection, `${queueName}-poison`);
  const nextDelay = backoffStrategy(MINIMUM_POLLING_MS, queues.maxPollingIntervalMs);
  const processing = new Set<Promise<void>>();
  let stopped = false;
  let foundSinceLastDelay = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  async function moveToPoison(message: DequeuedMessageItem): Promise<void> {
    log(`[${registration.name}] Message has reached MaxDequeueCount of ${queues.maxDequeueCount}. Moving message to queue '${queueName}-poison'.`);
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    await queue.deleteMessage(message.messageId, message.popReceipt).catch(() => undefined);
  }

  function decode(text: string): unknown {
    const body = queues.messageEncoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }

  async function processMessage(message: DequeuedMessageItem): Promise<void> {
    // Queues/QueueProcessor.cs BeginProcessingMessageAsync: past MaxDequeueCount, straight to poison.
    if (message.dequeueCount > queues.maxDequeueCount) return moveToPoison(message);
    let popReceipt = message.popReceipt;
    // Renewed at half the in-flight visibility while the function runs.
    const renew = setInterval(() => {
      queue.updateMessage(message.messageId, popReceipt, undefined, Math.round(lease / 1000))
        .then((updated) => (popReceipt = updated.popReceipt ?? popReceipt))
        .catch(() => undefined);
    }, lease / 2);
    const context = new InvocationContext({
      functionName: registration.name,
      invocationId: randomUUID(),
      triggerMetadata: {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt,
      },
      logHandler: (level, ...args) => log(`[${registration.name}] ${level}: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`),
    });
    let succeeded = true;
    try {
      await registration.options.handler(decode(message.messageText), context);
    } catch (error) {
      succeeded = false;
      log(`[${registration.name}] failed (try ${message.dequeueCount} of ${queues.maxDequeueCount}): ${(error as Error)?.message ?? String(error)}`);
    } finally {
      clearInterval(renew);
    }
    // Queues/QueueProcessor.cs CompleteProcessingMessageAsync.
    try {
      if (succeeded) await queue.deleteMessage(message.messageId, popReceipt);
      else if (message.dequeueCount >= queues.maxDequeueCount) await moveToPoison({ ...message, popReceipt });
      else await queue.updateMessage(message.messageId, popReceipt, undefined, Math.round(queues.visibilityTimeoutMs / 1000));
    } catch (error) {
      // Someone else took the message over, or it is gone: theirs to finish (ReleaseMessageAsync, DeleteMessageAsync).
      log(`[${registration.name}] could not complete message ${message.messageId}: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  const loop = (async () => {
    await queue.createIfNotExists().catch((error: unknown) => log(`[${registration.name}] queue ${queueName}: ${(error as Error).message}`));
    while (!stopped) {
      let batch: DequeuedMessageItem[] = [];
      try {
        batch = (await queue.receiveMessages({ numberOfMessages: queues.batchSize, visibilityTimeout: Math.round(lease / 1000) })).receivedMessageItems;
      } catch (error) {
        log(`[${registration.name}] polling ${queueName} failed: ${(error as Error).message}`);
      }
      for (const message of batch) {
        const task = processMessage(message).finally(() => processing.delete(task));
        processing.add(task);
      }
      if (batch.length > 0) {
        // QueueListener.cs WaitForNewBatchThreshold: the next batch once few enough are running.
        while (processing.size > queues.newBatchThreshold && !stopped) await Promise.race(processing);
        foundSinceLastDelay = true;
        continue;
      }
      // QueueListener.cs CreateDelayWithNotificationTask: the delay starts over after a poll that found messages.
      await sleep(nextDelay(foundSinceLastDelay));
      foundSinceLastDelay = false;
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
      await Promise.all(processing);
    },
  };
}
