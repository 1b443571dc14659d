import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { loadConfig } from '../lib/config.js';
import { newMailId } from '../lib/mail/delivery.js';
import { queueInvitationMail } from '../lib/mail/queue.js';
import { createRuntime } from '../lib/runtime.js';
import {
  mean, median, percentile, ratio,
  type EnumerationCheck, type ImportTime, type LoadFigures, type SessionCheckComparison,
  type MailDrain, type SignInRun, type StepFigures, type TransactionCount,
} from './benchReport.js';

/*
 * The parts of the benchmark (scripts/bench.ts runs them in order): the processes
 * it starts, the app's API as a guest and an operator, and each measurement.
 */

export const REPO = resolve(__dirname, '..', '..');
const TRANSACTIONS_HEADER = 'x-guestpass-storage-transactions';
const ROUND_TRIPS_HEADER = 'x-guestpass-storage-round-trips';
const CONNECTIONS = [1, 10, 50];

export interface Plan {
  /** Alternating guestpass/baseline rounds per connection count. */
  rounds: number;
  secondsPerRun: number;
  warmupSeconds: number;
  guests: number;
  enumerationSamples: number;
  transactionProbes: number;
  importSamples: number;
  mailDelayMs: number;
  /** Mails queued at once for the drain measurement. */
  drainMails: number;
}

const benchStarted = performance.now();
export const log = (line: string) => console.error(`bench [${((performance.now() - benchStarted) / 1000).toFixed(1)} s]: ${line}`);

// ---------------------------------------------------------------------------
// Processes

export interface ServerProcess {
  baseUrl: string;
  output: string[];
  /** CPU time (user + system) the process has used so far, in ms; NaN where /proc is missing. */
  cpuMs(): number;
  stop(): Promise<void>;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process from /proc/<pid>/stat (Linux). */
export function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Spawns a server script that prints `{"listening":port}` once it accepts connections. */
export async function spawnServer(script: string, env: Record<string, string>, name: string, profileDir?: string): Promise<ServerProcess> {
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, script], {
    cwd: mkdtempSync(join(tmpdir(), `guestpass-${name}-`)),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.startsWith('{"listening":')) resolvePort((JSON.parse(line) as { listening: number }).listening);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${output.join('\n')}`)));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    output,
    cpuMs: () => processCpuMs(child.pid),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface SlowSendGrid {
  baseUrl: string;
  /** The newest code mailed to each address. */
  codes: Map<string, string>;
  /**
   * The first code mailed to `email` at or after `sinceMs` (Date.now()), once the mail
   * arrives: the send-mail trigger sends it from the queue after send-code answered.
   */
  codeSince(email: string, sinceMs: number, timeoutMs?: number): Promise<string>;
  /** Mails taken (answered 202), in all. */
  mailsTaken(): number;
  close(): Promise<void>;
}

/** A local server speaking SendGrid's POST /v3/mail/send that answers 202 after a fixed delay, like a real mail API. */
export async function startSlowSendGrid(delayMs: number): Promise<SlowSendGrid> {
  const codes = new Map<string, string>();
  const mailed = new Map<string, { code: string; at: number }[]>();
  const waiting = new Set<() => void>();
  let taken = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v3/mail/send') {
        res.writeHead(404).end();
        return;
      }
      const mail = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        personalizations: { to: { email: string }[] }[];
        content: { type: string; value: string }[];
      };
      const to = mail.personalizations[0]?.to[0]?.email;
      const code = /\b(\d{6,12})\b/.exec(mail.content.find((c) => c.type === 'text/plain')?.value ?? '')?.[1];
      const receivedAt = Date.now();
      setTimeout(() => {
        if (to && code) {
          codes.set(to, code);
          mailed.set(to, [...(mailed.get(to) ?? []), { code, at: receivedAt }]);
        }
        taken += 1;
        for (const wake of [...waiting]) wake();
        res.writeHead(202, { 'x-message-id': randomBytes(8).toString('hex') }).end();
      }, delayMs);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const codeSince = (email: string, sinceMs: number, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = mailed.get(email)?.find((mail) => mail.at >= sinceMs);
        if (!found) return false;
        waiting.delete(check);
        clearTimeout(timer);
        resolve(found.code);
        return true;
      };
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(new Error(`no code mail to ${email} within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) waiting.add(check);
    });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    codes,
    codeSince,
    mailsTaken: () => taken,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------
// The app's API, as a guest and as an operator

export interface Api {
  host: ServerProcess;
  functionKey: string;
  call(path: string, init?: RequestInit): Promise<{ status: number; body: any; transactions: number; roundTrips: number; ms: number }>;
}

export function apiOf(host: ServerProcess, functionKey: string): Api {
  return {
    host,
    functionKey,
    async call(path, init = {}) {
      const started = performance.now();
      const response = await fetch(`${host.baseUrl}/api${path}`, init);
      const text = await response.text();
      const ms = performance.now() - started;
      return {
        status: response.status,
        body: text ? (JSON.parse(text) as unknown) : undefined,
        transactions: Number(response.headers.get(TRANSACTIONS_HEADER) ?? Number.NaN),
        roundTrips: Number(response.headers.get(ROUND_TRIPS_HEADER) ?? Number.NaN),
        ms,
      };
    },
  };
}

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const manage = (api: Api, body: unknown) => post(body, { 'x-functions-key': api.functionKey });
const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

async function expectStatus<T extends { status: number; body: unknown }>(what: string, status: number, result: Promise<T>): Promise<T> {
  const answered = await result;
  if (answered.status !== status) throw new Error(`${what}: expected ${status}, got ${answered.status} ${JSON.stringify(answered.body)}`);
  return answered;
}

export async function createTenant(api: Api, name: string): Promise<string> {
  const created = await expectStatus(`create tenant ${name}`, 201, api.call('/manage/tenants', manage(api, {
    displayName: name,
    domains: [`${name}-${randomBytes(3).toString('hex')}.bench.test`],
    redirectUris: ['https://app.bench.test/'],
  })));
  return (created.body as { id: string }).id;
}

export function invite(api: Api, tenantId: string, email: string) {
  return expectStatus(`invite ${email}`, 201, api.call(`/manage/tenants/${tenantId}/invitations`, manage(api, {
    invitedUserEmailAddress: email,
    inviteRedirectUrl: 'https://app.bench.test/',
  })));
}

export async function inAtMost<T>(items: T[], parallel: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

export const guestEmails = (label: string, count: number) => Array.from({ length: count }, (_, i) => `${label}${i}@guests.bench.test`);

// ---------------------------------------------------------------------------
// Measurements

interface LoadSample {
  latencies: number[];
  ok: number;
  errors: number;
  seconds: number;
  /** Every answer of the run, also those after the measured window (for CPU per request). */
  answered: number;
  serverCpuMs: number;
  azuriteCpuMs: number;
}

export interface LoadTarget {
  baseUrl: string;
  cpuMs(): number;
}

/** One autocannon run of session-check, rotating through the given session tokens. */
export function loadSessionCheck(target: LoadTarget, azuriteCpuMs: () => number, tenantId: string, tokens: string[], connections: number, seconds: number): Promise<LoadSample> {
  let next = 0;
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let answered = 0;
  let startedAt = 0;
  const cpuBefore = { server: target.cpuMs(), azurite: azuriteCpuMs() };
  return new Promise((resolveRun, reject) => {
    const instance = autocannon(
      {
        url: `${target.baseUrl}/api/${tenantId}/session-check`,
        connections,
        duration: seconds,
        requests: [{
          method: 'GET',
          setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${tokens[next++ % tokens.length]}` } }),
        }],
      },
      (error, result) => {
        if (error) return reject(error);
        errors += result.errors;
        resolveRun({
          latencies, ok, errors, seconds, answered,
          serverCpuMs: target.cpuMs() - cpuBefore.server,
          azuriteCpuMs: azuriteCpuMs() - cpuBefore.azurite,
        });
      },
    );
    instance.on('start', () => {
      startedAt = performance.now();
    });
    // autocannon emits (client, status, bytes, ms); only answers inside the window count.
    instance.on('response', ((_client: unknown, status: number, _bytes: number, ms: number) => {
      answered += 1;
      if (performance.now() - startedAt > seconds * 1000) return;
      if (status === 200) {
        ok += 1;
        latencies.push(ms);
      } else {
        errors += 1;
      }
    }) as never);
  });
}

function figures(samples: LoadSample[]): LoadFigures {
  const latencies = samples.flatMap((s) => s.latencies);
  const sum = (pick: (s: LoadSample) => number) => samples.reduce((total, s) => total + pick(s), 0);
  const answered = sum((s) => s.answered);
  return {
    requestsPerSecond: sum((s) => s.ok) / sum((s) => s.seconds),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: sum((s) => s.ok),
    errors: sum((s) => s.errors),
    cpuPerRequestUs: (sum((s) => s.serverCpuMs) * 1000) / answered,
    azuriteCpuPerRequestUs: (sum((s) => s.azuriteCpuMs) * 1000) / answered,
  };
}

/**
 * session-check on guestpass against the baseline at each connection count, in
 * alternating order round by round so that machine noise hits both alike.
 */
export async function compareSessionCheck(
  plan: Plan,
  targets: { guestpass: LoadTarget; baseline: LoadTarget },
  azuriteCpuMs: () => number,
  tenantId: string,
  tokens: string[],
  connectionCounts = CONNECTIONS,
): Promise<SessionCheckComparison[]> {
  for (const [name, target] of Object.entries(targets)) {
    log(`warming up ${name}`);
    await loadSessionCheck(target, azuriteCpuMs, tenantId, tokens, 10, plan.warmupSeconds);
  }
  const samples = new Map<string, LoadSample[]>();
  for (let round = 0; round < plan.rounds; round += 1) {
    for (const [index, connections] of connectionCounts.entries()) {
      const order = (round + index) % 2 === 0 ? (['guestpass', 'baseline'] as const) : (['baseline', 'guestpass'] as const);
      for (const name of order) {
        const sample = await loadSessionCheck(targets[name], azuriteCpuMs, tenantId, tokens, connections, plan.secondsPerRun);
        const key = `${name}@${connections}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        log(`session-check ${name}, ${connections} connections, round ${round + 1}: ${Math.round(sample.ok / sample.seconds)} req/s, ${Math.round((sample.serverCpuMs * 1000) / sample.answered)} µs CPU per request`);
      }
    }
  }
  return connectionCounts.map((connections) => {
    const ours = samples.get(`guestpass@${connections}`)!;
    const theirs = samples.get(`baseline@${connections}`)!;
    const guestpass = figures(ours);
    const baseline = figures(theirs);
    // Each round's two runs sat side by side in time; the median of their ratios
    // shrugs off a burst of load from elsewhere that hit one round.
    const roundRatios = ours.map((sample, i) => ratio(sample.ok, theirs[i]!.ok));
    return {
      connections,
      guestpass,
      baseline,
      roundRatios,
      throughputRatio: median(roundRatios),
      p50Ratio: ratio(guestpass.p50Ms, baseline.p50Ms),
      p99Ratio: ratio(guestpass.p99Ms, baseline.p99Ms),
      cpuRatio: ratio(guestpass.cpuPerRequestUs, baseline.cpuPerRequestUs),
    };
  });
}

/**
 * Complete sign-ins of many guests at once, each as a guest makes it: send-code, then
 * verify-code with the code once its mail arrives at the fake SendGrid (the send-mail
 * trigger sends it from the queue), then session-check with the token. A whole sign-in
 * is timed from send-code to the session-check answer, the mail's way included.
 * Sessions are then counted in Table Storage itself.
 */
export async function concurrentSignIns(
  api: Api,
  tenantId: string,
  emails: string[],
  sendGrid: SlowSendGrid,
  sessionRows: () => Promise<number>,
  azuriteCpuMs: () => number,
): Promise<{ run: SignInRun; tokens: string[] }> {
  const cpuBefore = { host: api.host.cpuMs(), azurite: azuriteCpuMs() };
  const tokens: string[] = [];
  const flowMs: number[] = [];
  const stepNames = ['sendCode', 'verifyCode', 'sessionCheck'] as const;
  const steps = Object.fromEntries(stepNames.map((s) => [s, { ms: [] as number[], errors: 0, transactions: [] as number[], statuses: {} as Record<number, number> }]));
  let firstStart = Number.POSITIVE_INFINITY;
  let lastEnd = 0;
  let flowErrors = 0;

  const expected = { sendCode: 202, verifyCode: 200, sessionCheck: 200 };
  const step = async (name: (typeof stepNames)[number], path: string, init: RequestInit) => {
    const started = performance.now();
    firstStart = Math.min(firstStart, started);
    const answer = await api.call(path, init);
    const now = performance.now();
    steps[name]!.ms.push(now - started);
    steps[name]!.transactions.push(answer.transactions);
    if (answer.status !== expected[name]) steps[name]!.errors += 1;
    steps[name]!.statuses[answer.status] = (steps[name]!.statuses[answer.status] ?? 0) + 1;
    lastEnd = Math.max(lastEnd, now);
    return answer;
  };
  await Promise.all(emails.map(async (email) => {
    try {
      const flowStarted = performance.now();
      const since = Date.now();
      const sent = await step('sendCode', `/${tenantId}/send-code`, post({ email }));
      if (sent.status !== 202) return;
      const code = await sendGrid.codeSince(email, since);
      const verified = await step('verifyCode', `/${tenantId}/verify-code`, post({ email, code, attempt: (sent.body as { attempt: string }).attempt }));
      if (verified.status !== 200) return;
      const token = (verified.body as { token: string }).token;
      const checked = await step('sessionCheck', `/${tenantId}/session-check`, bearer(token));
      if (checked.status !== 200) return;
      tokens.push(token);
      flowMs.push(performance.now() - flowStarted);
    } catch {
      flowErrors += 1;
    }
  }));
  const result = { errors: flowErrors };

  const durationMs = lastEnd - firstStart;
  const cpu = { host: api.host.cpuMs() - cpuBefore.host, azurite: azuriteCpuMs() - cpuBefore.azurite };
  const stepFigures = (name: (typeof stepNames)[number]): StepFigures => ({
    p50Ms: median(steps[name]!.ms),
    p99Ms: percentile(steps[name]!.ms, 99),
    errors: steps[name]!.errors,
    meanTransactions: mean(steps[name]!.transactions),
    statuses: steps[name]!.statuses,
  });
  const answered = stepNames.reduce((sum, s) => sum + steps[s]!.ms.length, 0);
  const unanswered = emails.length * 3 - answered;
  return {
    tokens,
    run: {
      guests: emails.length,
      completed: flowMs.length,
      durationMs,
      signInsPerSecond: flowMs.length / (durationMs / 1000),
      requestsPerSecond: answered / (durationMs / 1000),
      p50Ms: median(flowMs),
      p99Ms: percentile(flowMs, 99),
      errors: stepNames.reduce((sum, s) => sum + steps[s]!.errors, 0) + result.errors + Math.max(0, unanswered),
      sessionsCreated: await sessionRows(),
      hostCpuMsPerSignIn: cpu.host / emails.length,
      azuriteCpuMsPerSignIn: cpu.azurite / emails.length,
      steps: { sendCode: stepFigures('sendCode'), verifyCode: stepFigures('verifyCode'), sessionCheck: stepFigures('sessionCheck') },
    },
  };
}

/** send-code for invited and for uninvited addresses, alternating, each a fresh address. */
export async function enumerationCheck(api: Api, tenantId: string, invited: string[], strangers: string[], mailDelayMs: number): Promise<EnumerationCheck> {
  const times = { invited: [] as number[], uninvited: [] as number[] };
  for (let i = 0; i < invited.length; i += 1) {
    const pair = [['invited', invited[i]!], ['uninvited', strangers[i]!]] as const;
    for (const [kind, email] of i % 2 === 0 ? pair : [...pair].reverse()) {
      const sent = await expectStatus(`send-code ${kind}`, 202, api.call(`/${tenantId}/send-code`, post({ email })));
      times[kind].push(sent.ms);
    }
  }
  return {
    samples: invited.length,
    mailDelayMs,
    invitedMedianMs: median(times.invited),
    uninvitedMedianMs: median(times.uninvited),
    invitedP90Ms: percentile(times.invited, 90),
    uninvitedP90Ms: percentile(times.uninvited, 90),
    ratio: ratio(median(times.uninvited), median(times.invited)),
  };
}

/**
 * Table transactions per request, and the round trips that lay one after another, from
 * the counts the app puts in development-only response headers, for each endpoint of a
 * sign-in with a fresh guest per probe.
 */
export async function countTransactions(api: Api, tenantId: string, probes: number, sendGrid: SlowSendGrid): Promise<TransactionCount[]> {
  const counts = new Map<string, { samples: number[]; roundTrips: number[]; status: number }>();
  const note = (endpoint: string, answer: { status: number; transactions: number; roundTrips: number }) => {
    const entry = counts.get(endpoint) ?? { samples: [], roundTrips: [], status: answer.status };
    entry.samples.push(answer.transactions);
    entry.roundTrips.push(answer.roundTrips);
    counts.set(endpoint, entry);
  };
  for (let probe = 0; probe < probes; probe += 1) {
    const email = `probe${probe}@guests.bench.test`;
    const stranger = `probe-stranger${probe}@guests.bench.test`;
    const invited = await invite(api, tenantId, email);
    note('invitation (management)', invited);
    // The guest follows its invitation link, as the sign-in element does: it sends the link's
    // `invitation` value until its first sign-in, which marks it as the guest's own (DESIGN §4).
    const invitation = new URL((invited.body as { inviteRedeemUrl: string }).inviteRedeemUrl).searchParams.get('invitation')!;
    // The tenant context is cached per instance: what follows is the steady state.
    await api.call(`/${tenantId}/discovery/keys`);
    note('send-code (invited)', await expectStatus('send-code', 202, api.call(`/${tenantId}/send-code`, post({ email, invitation }))));
    const strangerSent = await expectStatus('send-code', 202, api.call(`/${tenantId}/send-code`, post({ email: stranger })));
    note('send-code (not invited)', strangerSent);
    const strangerAttempt = (strangerSent.body as { attempt: string }).attempt;
    note('verify-code (not invited, wrong code)', await expectStatus('verify-code', 401, api.call(`/${tenantId}/verify-code`, post({ email: stranger, code: '00000000', attempt: strangerAttempt }))));
    const code = await sendGrid.codeSince(email, 0);
    const wrong = code === '00000000' ? '11111111' : '00000000';
    note('verify-code (wrong code)', await expectStatus('verify-code', 401, api.call(`/${tenantId}/verify-code`, post({ email, code: wrong, invitation }))));
    const verified = await expectStatus('verify-code', 200, api.call(`/${tenantId}/verify-code`, post({ email, code, invitation })));
    note('verify-code', verified);
    const token = (verified.body as { token: string }).token;
    note('session-check', await expectStatus('session-check', 200, api.call(`/${tenantId}/session-check`, bearer(token))));
    note('sign-out', await expectStatus('sign-out', 204, api.call(`/${tenantId}/sign-out`, { method: 'POST', ...bearer(token) })));
    note('session-check (signed out)', await expectStatus('session-check', 401, api.call(`/${tenantId}/session-check`, bearer(token))));
    note('discovery/keys', await expectStatus('discovery/keys', 200, api.call(`/${tenantId}/discovery/keys`)));
  }
  return [...counts].map(([endpoint, { samples, roundTrips, status }]) => ({ endpoint, samples, median: median(samples), status, maxRoundTrips: Math.max(...roundTrips) }));
}

function timeProcess(args: string[], env: Record<string, string>, cwd: string): Promise<number> {
  return new Promise((resolveTime, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolveTime(performance.now() - started) : reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

/**
 * Variables Node reads at every start that would weigh on both sides: NODE_EXTRA_CA_CERTS
 * (set on some machines) parses a certificate bundle at start, about 50 ms, which flatters
 * the ratio; NODE_OPTIONS may preload modules or change flags.
 */
const NODE_START_VARIABLES = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'];

/** The environment both sides of the import ratio start with: PATH and the app's settings, nothing else. */
export function cleanChildEnv(settings: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...settings };
  for (const name of NODE_START_VARIABLES) delete env[name];
  return env;
}

/**
 * Cold import of the built function app against a bare node start, alternating, medians:
 * the published package as built (its entry compiles the bundle with the build's V8 code
 * cache, which this Node.js, the build's, accepts), and a copy of it without the cache, as a
 * Node.js whose V8 is not the build's loads it (compiled from source).
 */
export async function importTime(samples: number, env: Record<string, string>): Promise<ImportTime> {
  // The published package (what azd and Core Tools upload), with its lazy bundles beside it.
  const app = join(REPO, 'deploy', 'dist', 'index.js');
  const cwd = mkdtempSync(join(tmpdir(), 'guestpass-import-'));
  cpSync(join(REPO, 'deploy'), join(cwd, 'uncached'), { recursive: true, filter: (source) => !source.endsWith('.cache') });
  const uncached = join(cwd, 'uncached', 'dist', 'index.js');
  const childEnv = cleanChildEnv(env);
  const codeCache = (entry: string) => execFileSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(entry)}).codeCache)`], { env: childEnv, cwd }).toString();
  const times = { app: [] as number[], uncached: [] as number[], node: [] as number[] };
  for (let i = 0; i < samples; i += 1) {
    const runs = [['app', ['-e', `require(${JSON.stringify(app)})`]], ['uncached', ['-e', `require(${JSON.stringify(uncached)})`]], ['node', ['-e', '0']]] as const;
    for (const [kind, args] of i % 2 === 0 ? runs : [...runs].reverse()) times[kind].push(await timeProcess([...args], childEnv, cwd));
  }
  const result: ImportTime = {
    samples,
    codeCache: codeCache(app),
    appMedianMs: median(times.app),
    nodeMedianMs: median(times.node),
    ratio: ratio(median(times.app), median(times.node)),
    uncached: { codeCache: codeCache(uncached), appMedianMs: median(times.uncached), ratio: ratio(median(times.uncached), median(times.node)) },
  };
  rmSync(cwd, { recursive: true, force: true });
  return result;
}

/**
 * Queues `count` invitation mails at once, as the app queues them (lib/mail/queue.ts,
 * the host's own settings), and times the host's send-mail trigger sending them all
 * through the fake SendGrid (each mail taking its delay).
 */
export async function drainMails(settings: Record<string, string>, tenantId: string, sendGrid: SlowSendGrid, count: number): Promise<MailDrain> {
  const rt = createRuntime(loadConfig(settings, () => undefined));
  const takenBefore = sendGrid.mailsTaken();
  const started = performance.now();
  const recipients = Array.from({ length: count }, (_, i) => `drain${i}@guests.bench.test`);
  for (let i = 0; i < recipients.length; i += 50) {
    await Promise.all(recipients.slice(i, i + 50).map((to) =>
      queueInvitationMail(rt, { id: newMailId(Date.now()), tenantId, content: { to, inviteRedeemUrl: 'https://app.bench.test/?tenant=bench' } })));
  }
  const deadline = Date.now() + 600_000;
  while (sendGrid.mailsTaken() - takenBefore < count) {
    if (Date.now() > deadline) throw new Error(`the mail queue was not drained: ${sendGrid.mailsTaken() - takenBefore} of ${count} mails sent`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  // A moment for any duplicate to show.
  await new Promise((r) => setTimeout(r, 500));
  return { mails: count, seconds, mailsPerSecond: count / seconds, duplicates: sendGrid.mailsTaken() - takenBefore - count };
}
