import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { generateCodePepper, generateSigningKeys } from '../lib/signin/keys.js';
import { startAzurite } from './azurite.js';
import { log, REPO, spawnServer } from './benchHarness.js';
import { freePort } from './ports.js';
import { launchChromium } from './chromium.js';

/*
 * `npm run bench:console [-- --runs N]`: how heavy the operator console is and how soon
 * its first page is usable on the local host. Starts its own Azurite (in memory) and
 * the built app under the local host, fills a tenant with 200 guests and their sign-ins,
 * then opens the console in Chromium (scripts/chromium.ts) N times in fresh browser contexts (a cold
 * cache each time, the credential already in sessionStorage as after a sign-in) and
 * times, from navigation start (performance.now() in the page), until the Guests table
 * is on the screen, and the same for the Sign-in logs page with its chart. Prints a Markdown table.
 */

const GUESTS = 200;

/** The bytes as they cross the wire (fetch would undo the gzip), and the Content-Encoding. */
function wireBytes(url: string, acceptEncoding: string): Promise<{ bytes: number; encoding?: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': acceptEncoding } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ bytes, encoding: response.headers['content-encoding'] }));
    }).on('error', reject);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 10;
  const azurite = await startAzurite({ port: await freePort() });
  const functionKey = generateCodePepper();
  const host = await spawnServer(`${REPO}/dist/scripts/host.js`, {
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    TABLES_CONNECTION_STRING: azurite.connectionString,
    TABLE_PREFIX: `console${randomBytes(4).toString('hex')}`,
    PORT: '0',
    LOCAL_FUNCTION_KEY: functionKey,
    CODE_PEPPER: generateCodePepper(),
    SIGNING_KEYS: generateSigningKeys(),
    EMAIL_TRANSPORT: 'outbox',
    PUBLIC_BASE_URL: 'http://localhost:7071',
    SEND_CODE_PER_IP_PER_HOUR: '100000',
  }, 'console-host');
  const browser = await launchChromium();
  try {
    const manage = (path: string, body?: unknown) =>
      fetch(`${host.baseUrl}/api/manage${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { 'x-functions-key': functionKey, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
    const tenant = (await (await manage('/tenants', { displayName: 'Bench', domains: [], redirectUris: ['https://app.bench.test/'] })).json()) as { id: string };
    log(`inviting ${GUESTS} guests, each asking for a code once`);
    for (let i = 0; i < GUESTS; i += 20) {
      await Promise.all(Array.from({ length: 20 }, async (_, j) => {
        const email = `guest${i + j}@bench.test`;
        await manage(`/tenants/${tenant.id}/invitations`, { invitedUserEmailAddress: email, inviteRedirectUrl: 'https://app.bench.test/' });
        await fetch(`${host.baseUrl}/api/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
      }));
    }

    // Sizes of what the browser downloads, as served (identity and gzip).
    const page = await (await fetch(`${host.baseUrl}/api/manage/console/`, { headers: { 'accept-encoding': 'identity' } })).text();
    const firstPage = ['', ...[...page.matchAll(/(?:src|href)="([^":]+\.(?:js|css))"/g)].map((match) => match[1]!)];
    // Loaded when a page needs it (the Bulk invite page's CSV parser): the entry's dynamic imports.
    const entry = await (await fetch(`${host.baseUrl}/api/manage/console/${firstPage.find((file) => file.startsWith('console-') && file.endsWith('.js'))}`)).text();
    const later = [...entry.matchAll(/import\("\.\/([^"]+\.js)"\)/g)].map((match) => match[1]!);
    const files = [...firstPage, ...later];
    const sizes: string[] = [];
    let total = 0;
    let totalGzip = 0;
    for (const file of files) {
      const plain = await wireBytes(`${host.baseUrl}/api/manage/console/${file}`, 'identity');
      const gzipped = await wireBytes(`${host.baseUrl}/api/manage/console/${file}`, 'gzip, deflate, br');
      if (gzipped.encoding !== 'gzip') throw new Error(`${file || 'index.html'} was not served gzipped`);
      const onFirstPage = firstPage.includes(file);
      if (onFirstPage) {
        total += plain.bytes;
        totalGzip += gzipped.bytes;
      }
      sizes.push(`| ${file || 'index.html'}${onFirstPage ? '' : ' (loaded by the Bulk invite page)'} | ${plain.bytes} | ${gzipped.bytes} |`);
    }

    const measure = async (hash: string, selector: string, signedIn = true): Promise<number[]> => {
      const times: number[] = [];
      for (let run = 0; run < runs; run += 1) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        if (signedIn) await context.addInitScript(([credential, tenantId]) => {
          sessionStorage.setItem('guestpass.console.credential', credential!);
          sessionStorage.setItem('guestpass.console.tenant', tenantId!);
        }, [functionKey, tenant.id]);
        const tab = await context.newPage();
        await tab.goto(`${host.baseUrl}/api/manage/console/${hash}`);
        // Playwright notices the element within a frame or so; the figure errs that much on the slow side.
        await tab.waitForSelector(selector, { timeout: 30_000 });
        times.push(await tab.evaluate(() => performance.now()));
        if (process.env.BENCH_CONSOLE_TIMINGS) {
          console.log(await tab.evaluate(() => JSON.stringify(performance.getEntries().map((e) => [e.name.slice(-30), Math.round(e.startTime), Math.round((e as PerformanceResourceTiming).responseEnd ?? 0)]))));
        }
        await context.close();
      }
      return times;
    };
    log(`opening the console ${runs} times per page`);
    const guests = await measure('#/guests', 'main table tbody tr');
    const signIns = await measure('#/sign-ins', 'main svg.chart');
    const signInPage = await measure('', 'main form input[type="password"]', false);
    const format = (values: number[]) => `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
    console.log([
      '',
      '### Operator console',
      '',
      '| file | bytes | gzip |',
      '|---|---:|---:|',
      ...sizes,
      `| **first page, total** | **${total}** | **${totalGzip}** |`,
      '',
      `| first page usable, from navigation start (median of ${runs} cold loads, min–max) | |`,
      '|---|---|',
      `| sign-in page (key field shown) | ${format(signInPage)} |`,
      `| Guests (${GUESTS} guests: first 50 in the table) | ${format(guests)} |`,
      `| Sign-in logs (chart of 168 hours, ${GUESTS} log rows) | ${format(signIns)} |`,
      '',
      `Load average while measuring: ${loadavg().map((load) => load.toFixed(1)).join(', ')} on ${cpus().length} CPUs.`,
      '',
    ].join('\n'));
  } finally {
    await browser.close();
    await host.stop();
    await azurite.stop();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exit(1);
});
