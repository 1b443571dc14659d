import type { TableEntityResult } from '@azure/data-tables';
import type { Runtime } from '../runtime.js';
import { escapeOData, isStatus } from '../storage/tables.js';
import { DAY_MS, dayStamp, dayTable } from '../storage/dayTables.js';

/*
 * Wrong codes sent by callers that are not the guest's own are counted per tenant
 * and per deployment per UTC day. Past TENANT_FAILED_VERIFICATIONS_PER_DAY
 * (DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY) such callers must solve a step-up for
 * every verification that day: a surge slows unfamiliar callers and alerts (the sign-in
 * summary, the wrong-code alert in Bicep), and never refuses anyone. What bounds
 * guessing is the per-guest budget (GUEST_UNFAMILIAR_GUESSES_PER_DAY, SECURITY.md), so
 * strangers cannot lock a tenant or the deployment out. The counters are a few shard
 * rows each (concurrent increments spread over them instead of racing over one row)
 * in the day's limits table, so they go with it.
 */
const SHARDS = 32;

interface ShardRow {
  count: number;
}

function tenantCounter(tenantId: string): string {
  return `guesses_tenant_${tenantId}`;
}
const DEPLOYMENT_COUNTER = 'guesses_deployment';

export interface GuessCounts {
  tenant: number;
  deployment: number;
  /** Past the tenant's or the deployment's ceiling today: unfamiliar callers must solve a step-up. */
  over: boolean;
  rows: Map<string, TableEntityResult<ShardRow>>;
}

/**
 * Today's unfamiliar wrong codes of the tenant and of the deployment: one query reads
 * both counters' shards. A tenant found over its ceiling is remembered until the day ends.
 */
export async function readGuessCounts(rt: Runtime, tenantId: string): Promise<GuessCounts> {
  const now = rt.now();
  const cacheKey = `guesses:${tenantId}:${dayStamp(now)}`;
  const counts: GuessCounts = { tenant: 0, deployment: 0, over: false, rows: new Map() };
  if (rt.earlyRejection.until(cacheKey, now)) return { ...counts, over: true };
  const table = await dayTable(rt, 'limits', now);
  const filter = `PartitionKey eq '${escapeOData(tenantCounter(tenantId))}' or PartitionKey eq '${DEPLOYMENT_COUNTER}'`;
  for await (const row of table.listEntities<ShardRow>({ queryOptions: { filter } })) {
    counts.rows.set(`${row.partitionKey}|${row.rowKey}`, row);
    if (row.partitionKey === DEPLOYMENT_COUNTER) counts.deployment += row.count;
    else counts.tenant += row.count;
  }
  const { tenantFailedVerificationsPerDay, deploymentFailedVerificationsPerDay } = rt.config.limits;
  counts.over = counts.tenant >= tenantFailedVerificationsPerDay || counts.deployment >= deploymentFailedVerificationsPerDay;
  if (counts.over) rt.earlyRejection.block(cacheKey, (Math.floor(now / DAY_MS) + 1) * DAY_MS);
  return counts;
}

/** Adds one wrong code to the tenant's and the deployment's counters of the day. */
export async function countWrongGuess(rt: Runtime, tenantId: string, read: GuessCounts): Promise<void> {
  const table = await dayTable(rt, 'limits', rt.now());
  const expiresAt = new Date((Math.floor(rt.now() / DAY_MS) + 1) * DAY_MS);
  await Promise.all(
    [tenantCounter(tenantId), DEPLOYMENT_COUNTER].map(async (partitionKey) => {
      let rowKey = `s${Math.floor(Math.random() * SHARDS)}`;
      let known = read.rows.get(`${partitionKey}|${rowKey}`);
      for (let attempt = 0; attempt < 10; attempt += 1) {
        try {
          if (known) {
            await table.updateEntity({ partitionKey, rowKey, count: known.count + 1, expiresAt }, 'Merge', { etag: known.etag });
          } else {
            await table.createEntity({ partitionKey, rowKey, count: 1, expiresAt });
          }
          return;
        } catch (error) {
          if (!isStatus(error, 409, 412)) throw error;
          // Another increment of this shard came first: read it again, or try another shard.
          rowKey = `s${Math.floor(Math.random() * SHARDS)}`;
          known = await table.getEntity<ShardRow>(partitionKey, rowKey).catch((caught: unknown) => {
            if (isStatus(caught, 404)) return undefined;
            throw caught;
          });
        }
      }
    }),
  );
}
