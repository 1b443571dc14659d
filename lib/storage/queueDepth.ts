import type { Runtime } from '../runtime.js';
import { telemetry } from '../telemetry/telemetry.js';

export interface QueueDepth {
  queue: string;
  /** Approximate messages waiting (visible or not). */
  depth: number;
  /** Seconds since the oldest visible message was queued; 0 when none is visible. */
  oldestAgeSeconds: number;
}

/**
 * The depth and oldest message age of the app's queues and their -poison queues, recorded
 * as gauges (guestpass.queue.depth, guestpass.queue.oldest_age): a non-empty poison queue
 * is an alert (infra/modules/alerts.bicep). Run by the cleanup timer, two transactions a queue.
 */
export async function observeQueues(rt: Runtime): Promise<QueueDepth[]> {
  const names = [rt.config.queue.mailQueueName, rt.config.queue.webhookQueueName].flatMap((name) => [name, `${name}-poison`]);
  const depths: QueueDepth[] = [];
  for (const name of names) {
    const queue = await rt.queues.named(name);
    const properties = await queue.getProperties();
    const [oldest] = (await queue.peekMessages({ numberOfMessages: 1 })).peekedMessageItems;
    const depth = { queue: name, depth: properties.approximateMessagesCount ?? 0, oldestAgeSeconds: oldest ? Math.max(0, Math.round((rt.now() - oldest.insertedOn.getTime()) / 1000)) : 0 };
    telemetry.gauge('queueDepth', depth.depth, { queue: name });
    telemetry.gauge('queueOldestAge', depth.oldestAgeSeconds, { queue: name });
    depths.push(depth);
  }
  return depths;
}
