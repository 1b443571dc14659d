import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { generateCodePepper, generateSigningKey } from '../lib/signin/keys.js';
import { startAzurite } from './azurite.js';
import {
  apiOf, compareSessionCheck, concurrentSignIns, countTransactions, createTenant, drainMails, enumerationCheck, guestEmails,
  importTime, inAtMost, invite, log, processCpuMs, REPO, spawnServer, startSlowSendGrid, type Plan,
} from './benchHarness.js';
import { cleanupCost, floodRatio, guestListingCost, oracleTiming, refusedAndAnonymousCost, type AbuseFigures } from './benchAbuse.js';
import { checkTargets, renderLatencyChart, renderTable, type BenchResults } from './benchReport.js';
import { freePort } from './ports.js';

/*
 * `npm run bench [-- --quick] [-- --out DIR]`: starts its own Azurite (in memory), a
 * fake SendGrid that takes a fixed time per mail, the built app under the local host
 * and a baseline server (each in its own process), then measures speed as ratios
 * taken in this one run and storage cost as Table transactions per request.
 */

const FULL: Plan = { rounds: 8, secondsPerRun: 2, warmupSeconds: 3, guests: 200, enumerationSamples: 30, transactionProbes: 3, importSamples: 15, mailDelayMs: 100, drainMails: 1000 };
const QUICK: Plan = { rounds: 1, secondsPerRun: 1, warmupSeconds: 1, guests: 200, enumerationSamples: 6, transactionProbes: 3, importSamples: 4, mailDelayMs: 100, drainMails: 200 };

/** The abuse measurements (scripts/benchAbuse.ts): refused calls, cleanup sizes, the flood. */
const ABUSE_FULL = { oracleTries: 40, refusedCalls: 1000, cleanupStored: [10_000, 100_000], listingStrangerRows: [0, 20_000], floodSamples: 30, floodAttackers: 1000, floodConcurrency: 32 };
const ABUSE_QUICK = { oracleTries: 20, refusedCalls: 100, cleanupStored: [1_000, 10_000], listingStrangerRows: [0, 2_000], floodSamples: 6, floodAttackers: 200, floodConcurrency: 16 };

interface BenchOptions {
  quick: boolean;
  outDir: string;
  /** Where the host and the baseline write V8 CPU profiles (--cpu-prof), if anywhere. */
  profileDir?: string;
}

function parseArgs(argv: string[]): BenchOptions {
  const valueOf = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 && argv[at + 1] ? resolve(argv[at + 1]!) : undefined;
  };
  const unknown = argv.filter((arg, i) => arg !== '--quick' && !['--out', '--profile'].includes(arg) && !['--out', '--profile'].includes(argv[i - 1]!));
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]} (use --quick, --out DIR, --profile DIR)`);
  return { quick: argv.includes('--quick'), outDir: valueOf('--out') ?? join(REPO, 'bench', 'results'), profileDir: valueOf('--profile') };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const plan = options.quick ? QUICK : FULL;
  const startedAt = new Date();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    log(`${options.quick ? 'quick' : 'full'} run; starting Azurite, a fake SendGrid (${plan.mailDelayMs} ms per mail), guestpass and the baseline`);
    const azurite = await startAzurite({ port: await freePort(), queuePort: await freePort() });
    stops.push(() => azurite.stop());
    const sendGrid = await startSlowSendGrid(plan.mailDelayMs);
    stops.push(() => sendGrid.close());

    const signingKey = generateSigningKey();
    const functionKey = generateCodePepper();
    const tablePrefix = `bench${randomBytes(4).toString('hex')}`;
    const publicBaseUrl = 'http://localhost:7071';
    const codePepper = generateCodePepper();
    const hostSettings = {
      // As deployed: not development, so no development-only instrumentation.
      AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
      TABLES_CONNECTION_STRING: azurite.connectionString,
      TABLE_PREFIX: tablePrefix,
      // Mail waits in Azurite's queue for the send-mail trigger, polled at the host's floor
      // (100 ms) so that a mail's wait is the same quiet or flooded.
      AzureWebJobsStorage: azurite.connectionString,
      MAIL_QUEUE_NAME: `${tablePrefix}-mail`,
      ACS_EVENTS_QUEUE_NAME: `${tablePrefix}-acs-events`,
      WEBHOOK_QUEUE_NAME: `${tablePrefix}-webhooks`,
      AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.100',
      PORT: '0',
      PUBLIC_BASE_URL: publicBaseUrl,
      OPERATOR_KEY: functionKey,
      CODE_PEPPER: codePepper,
      SIGNING_KEYS: JSON.stringify([signingKey, generateSigningKey('RSA')]),
      // Mail as in production: SendGrid (the outbox transport would add a row per mail).
      EMAIL_TRANSPORT: 'sendgrid',
      SENDGRID_API_KEY: 'SG.bench-not-a-real-key',
      SENDGRID_BASE_URL: sendGrid.baseUrl,
      // Every guest of the run comes from 127.0.0.1: the per-IP limits must not be what fails.
      SEND_CODE_PER_IP_PER_HOUR: '1000000',
      FAILED_VERIFICATIONS_PER_IP_PER_HOUR: '1000000',
      // The flood measurement signs each guest in more than once from its own address.
      RESEND_COOLDOWN_SECONDS: '0',
      // On a shared, loaded machine Azurite may take seconds under the 200-guest burst; that is measured, not an outage.
      STORAGE_TIMEOUT_SECONDS: '30',
    };
    const hostScript = join(REPO, 'dist', 'scripts', 'host.js');
    const host = await spawnServer(hostScript, hostSettings, 'host', options.profileDir);
    stops.push(() => host.stop());
    // The same app on the same tables in development, where each answer carries its
    // Table transaction count (x-guestpass-storage-transactions).
    const devHost = await spawnServer(hostScript, { ...hostSettings, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' }, 'dev-host');
    stops.push(() => devHost.stop());
    const { d: _private, ...publicJwk } = signingKey;
    const baseline = await spawnServer(join(REPO, 'dist', 'scripts', 'benchBaseline.js'), {
      TABLES_CONNECTION_STRING: azurite.connectionString,
      GUESTS_TABLE: `${tablePrefix}guests`,
      PUBLIC_BASE_URL: publicBaseUrl,
      CODE_PEPPER: codePepper,
      PUBLIC_JWK: JSON.stringify(publicJwk),
    }, 'baseline', options.profileDir);
    stops.push(() => baseline.stop());
    const api = apiOf(host, functionKey);
    const devApi = apiOf(devHost, functionKey);

    log('creating tenants and inviting guests');
    const tenants = {
      flow: await createTenant(api, 'flow'),
      counted: await createTenant(api, 'counted'),
      probe: await createTenant(api, 'probe'),
    };
    const flowGuests = guestEmails('guest', plan.guests);
    const timed = { invited: guestEmails('timed', plan.enumerationSamples * 2), strangers: guestEmails('stranger', plan.enumerationSamples * 2) };
    await inAtMost(flowGuests, 16, (email) => invite(api, tenants.flow, email));
    await inAtMost(flowGuests, 16, (email) => invite(api, tenants.counted, email));
    await inAtMost(timed.invited, 16, (email) => invite(api, tenants.probe, email));

    log('counting Table transactions per request (development host)');
    const transactions = await countTransactions(devApi, tenants.probe, plan.transactionProbes, sendGrid);
    const perRequest = (endpoint: string) => transactions.find((t) => t.endpoint === endpoint)?.median ?? Number.NaN;
    const transactionsPerSignIn = perRequest('send-code (invited)') + perRequest('verify-code') + perRequest('session-check');

    log('send-code latency, invited vs not invited');
    const half = plan.enumerationSamples;
    const enumeration = await enumerationCheck(api, tenants.probe, timed.invited.slice(0, half), timed.strangers.slice(0, half), plan.mailDelayMs);

    log(`signing in ${plan.guests} guests at once`);
    const guestsTable = TableClient.fromConnectionString(azurite.connectionString, `${tablePrefix}guests`, { allowInsecureConnection: true });
    const sessionRowsOf = (tenantId: string) => async () => {
      let rows = 0;
      const filter = `PartitionKey ge '${tenantId}_' and PartitionKey lt '${tenantId}\`' and RowKey ge 'session_' and RowKey lt 'session\`'`;
      for await (const _row of guestsTable.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) rows += 1;
      return rows;
    };
    const azuriteCpuMs = () => processCpuMs(azurite.process?.pid);
    const { run: signIn, tokens } = await concurrentSignIns(api, tenants.flow, flowGuests, sendGrid, sessionRowsOf(tenants.flow), azuriteCpuMs);
    if (tokens.length === 0) throw new Error(`no guest signed in (${JSON.stringify(Object.fromEntries(Object.entries(signIn.steps).map(([name, step]) => [name, step.statuses])))}); host output:\n${host.output.slice(-20).join('\n')}`);

    log('send-code latency right after that burst');
    const enumerationAfterBurst = await enumerationCheck(api, tenants.probe, timed.invited.slice(half), timed.strangers.slice(half), plan.mailDelayMs);

    log(`signing in ${plan.guests} guests at once on the development host, counting transactions`);
    const { run: signInCounted } = await concurrentSignIns(devApi, tenants.counted, flowGuests, sendGrid, sessionRowsOf(tenants.counted), azuriteCpuMs);

    log(`${plan.drainMails} queued mails drained by the send-mail trigger`);
    const mailDrain = await drainMails(hostSettings, tenants.flow, sendGrid, plan.drainMails);

    log('session-check against the baseline');
    const sessionCheck = await compareSessionCheck(plan, { guestpass: host, baseline }, azuriteCpuMs, tenants.flow, tokens);

    const abusePlan = options.quick ? ABUSE_QUICK : ABUSE_FULL;
    log(`abuse: ${abusePlan.refusedCalls} refused calls and as many anonymous ones, on a development host with the default limits`);
    const abusePrefix = `${tablePrefix}a`;
    const { FAILED_VERIFICATIONS_PER_IP_PER_HOUR: _v, SEND_CODE_PER_IP_PER_HOUR: _s, ...defaultLimits } = hostSettings;
    const abuseHost = await spawnServer(hostScript, { ...defaultLimits, AZURE_FUNCTIONS_ENVIRONMENT: 'Development', TABLE_PREFIX: abusePrefix, MAIL_QUEUE_NAME: `${abusePrefix}-mail`, ACS_EVENTS_QUEUE_NAME: `${abusePrefix}-acs-events`, WEBHOOK_QUEUE_NAME: `${abusePrefix}-webhooks` }, 'abuse-host');
    stops.push(() => abuseHost.stop());
    const abuseTenant = await createTenant(apiOf(abuseHost, functionKey), 'abuse');
    const costs = await refusedAndAnonymousCost(abuseHost, abuseTenant, azurite.connectionString, abusePrefix, abusePlan.refusedCalls);
    log(`abuse: cleanup over ${abusePlan.cleanupStored.join(' and ')} stored rows, 100 expired`);
    const cleanup = [];
    for (const stored of abusePlan.cleanupStored) cleanup.push(await cleanupCost(azurite.connectionString, stored));
    log(`abuse: a guest listing filtered by state with ${abusePlan.listingStrangerRows.join(' and ')} stranger rows in the tenant's range`);
    const listing = [];
    for (const strangerRows of abusePlan.listingStrangerRows) listing.push(await guestListingCost(azurite.connectionString, strangerRows));
    log(`abuse: a real guest signing in, quiet and during a flood from ${abusePlan.floodAttackers} addresses`);
    const floodTenant = await createTenant(api, 'flood');
    const floodGuests = guestEmails('flooded', abusePlan.floodSamples);
    await inAtMost(floodGuests, 16, (email) => invite(api, floodTenant, email));
    const flood = await floodRatio(host, floodTenant, floodGuests, sendGrid, azuriteCpuMs, {
      attackers: abusePlan.floodAttackers, concurrency: abusePlan.floodConcurrency,
    });
    log('abuse: the same, past the tenant ceilings a lasting flood reaches');
    // At the defaults (1000 codes an hour, 150 wrong codes a day, from unfamiliar addresses)
    // the issue's flood of 268 calls/s passes both within seconds; lower here, so the bench
    // gets there sooner. What a refused call costs does not depend on where the ceiling is.
    const ceilingHost = await spawnServer(hostScript, { ...hostSettings, TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '100', TENANT_FAILED_VERIFICATIONS_PER_DAY: '50' }, 'ceiling-host');
    stops.push(() => ceilingHost.stop());
    const ceilingApi = apiOf(ceilingHost, functionKey);
    const sustainedTenant = await createTenant(ceilingApi, 'sustained-flood');
    const sustainedGuests = guestEmails('sustained', abusePlan.floodSamples);
    await inAtMost(sustainedGuests, 16, (email) => invite(ceilingApi, sustainedTenant, email));
    const sustainedFlood = await floodRatio(ceilingHost, sustainedTenant, sustainedGuests, sendGrid, azuriteCpuMs, {
      attackers: abusePlan.floodAttackers, concurrency: abusePlan.floodConcurrency, pastTheCeilings: true,
    });
    log('abuse: no oracle by timing, each kind of guest address beside a never-seen one, with the other hosts stopped');
    // Their queue triggers poll Azurite every 100 ms: noise the medians need not carry.
    await Promise.all([host, devHost, baseline, abuseHost, ceilingHost].map((server) => server.stop()));
    // Repeated calls for one address from one probe address: no cooldown, no per-caller or per-guest ceiling in the way.
    const roomy = { CODES_PER_GUEST_PER_HOUR: '100000', CODE_MAX_ATTEMPTS: '100000', FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR: '100000', GUEST_STEP_UP_AFTER_PER_HOUR: '100000', GUEST_UNFAMILIAR_GUESSES_PER_DAY: '100000', TENANT_FAILED_VERIFICATIONS_PER_DAY: '100000', DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY: '100000', TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '100000', MAIL_DAILY_CAP_PER_TENANT: '100000' };
    const oracleHost = await spawnServer(hostScript, { ...hostSettings, ...roomy }, 'oracle-host');
    stops.push(() => oracleHost.stop());
    const oracle = await oracleTiming(oracleHost, functionKey, await createTenant(apiOf(oracleHost, functionKey), 'oracle'), sendGrid, abusePlan.oracleTries);
    const abuse: AbuseFigures = { ...costs, cleanup, listing, flood, sustainedFlood, oracle };

    await stopAll();
    log('import time of the built app');
    // Production-shaped, as in Azure: a managed-identity table endpoint (nothing connects at import).
    const imports = await importTime(plan.importSamples, {
      ...hostSettings,
      TABLES_ENDPOINT: 'https://stguestpass.table.core.windows.net/',
      AzureWebJobsStorage: '',
      AzureWebJobsStorage__accountName: 'stguestpass',
      AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
    });

    const partial: Omit<BenchResults, 'targets'> = {
      mode: options.quick ? 'quick' : 'full',
      startedAt: startedAt.toISOString(),
      machine: { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
      plan: { ...plan },
      hostSettings: Object.fromEntries(Object.entries(hostSettings).filter(([k]) => !/KEY|PEPPER|CONNECTION/.test(k))),
      sessionCheck,
      signIn,
      signInCounted,
      enumeration,
      enumerationAfterBurst,
      mailDrain,
      transactions,
      transactionsPerSignIn,
      importTime: imports,
      abuse,
    };
    const results: BenchResults = { ...partial, targets: checkTargets(partial) };
    const table = renderTable(results);
    mkdirSync(options.outDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const chart = renderLatencyChart(sessionCheck, `session-check latency vs connections (${results.mode} run, ${startedAt.toISOString().slice(0, 16)})`);
    for (const name of [stamp, 'latest']) {
      writeFileSync(join(options.outDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
      writeFileSync(join(options.outDir, `${name}.md`), `${table}\n`);
      writeFileSync(join(options.outDir, `${name}.svg`), chart);
    }
    console.log(table);
    console.log(`\nWritten: ${join(options.outDir, `${stamp}.{json,md,svg}`)} (and latest.*)`);
    const missed = results.targets.filter((t) => !t.holds);
    if (missed.length > 0) console.log(`\nTargets missed: ${missed.map((t) => t.name).join('; ')}`);
  } finally {
    await stopAll();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exit(1);
});
