import { cleanupExpired } from '../lib/cleanup.js';
import { runtime } from '../lib/runtime.js';
import { countingTransactions } from '../lib/storage.js';
import { registerTimer } from './http.js';

// NCRONTAB (with seconds): at second 0 of every 15th minute.
export const CLEANUP_SCHEDULE = '0 */15 * * * *';

registerTimer('cleanup', {
  schedule: CLEANUP_SCHEDULE,
  handler: async (_timer, context) => {
    const { result, transactions } = await countingTransactions(async () => cleanupExpired(await runtime()));
    const { guests, limits, outbox, mail } = result.deletedByTable;
    context.log(
      `cleanup: deleted ${result.deleted} expired rows (guests ${guests}, limits ${limits}, outbox ${outbox}, mail ${mail}), ` +
        `left ${result.skipped} that changed meanwhile, ${transactions} storage transactions` +
        (result.complete ? '' : '; stopped at its time budget, the next run goes on'),
    );
  },
});
