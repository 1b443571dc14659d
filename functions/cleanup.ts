import { runLifecycleForAllTenants } from '../lib/admin/lifecycle.js';
import { cleanupExpired } from '../lib/storage/cleanup.js';
import { observeQueues } from '../lib/storage/queueDepth.js';
import { runtime } from '../lib/runtime.js';
import { countingTransactions } from '../lib/storage/tables.js';
import { registerTimer } from './http.js';

// NCRONTAB (with seconds): at second 0 of every 15th minute.
export const CLEANUP_SCHEDULE = '0 */15 * * * *';

registerTimer('cleanup', {
  schedule: CLEANUP_SCHEDULE,
  handler: async (_timer, context) => {
    const { result, transactions } = await countingTransactions(async () => cleanupExpired(await runtime()));
    context.log(
      `cleanup: deleted ${result.deleted} expired rows in ${result.partitions} guest partitions over ${result.hours} hours of the expiry index, ` +
        `dropped ${result.droppedTables.length} day tables, left ${result.skipped} rows that changed meanwhile, ${transactions} storage transactions` +
        (result.complete ? '' : '; stopped at its time budget, the next run goes on from its cursor'),
    );
    // Queue depths for the metrics and the poison-queue alert; a queue that does not answer waits for the next run.
    for (const { queue, depth } of await observeQueues(await runtime()).catch(() => [])) if (queue.endsWith('-poison') && depth > 0) context.warn(`queue ${queue} holds ${depth} messages that failed every try`);
    // Guest lifecycle, for the tenants that turned it on; every action is audited too.
    for (const { tenantId, actions } of await runLifecycleForAllTenants(await runtime())) {
      for (const action of actions) context.log(`lifecycle: tenant ${tenantId} ${action.action} guest ${action.guestId} (${action.reason})`);
    }
  },
});
