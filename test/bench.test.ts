import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_ROW, IMPORT_UNCACHED_ROW, ORACLE_TIMING_CHECK, type BenchResults } from '../scripts/benchReport.js';

/*
 * The benchmark's quick mode, run as `npm run bench -- --quick` would run it (on the
 * dist/ that the global setup built), so the harness cannot rot. Speed is never
 * asserted here — only that every measurement came out and the storage-cost and
 * correctness figures hold.
 */
const REPO = resolve(__dirname, '..');
const outDir = mkdtempSync(join(tmpdir(), 'guestpass-bench-'));
let stdout = '';
let results: BenchResults;

beforeAll(async () => {
  ({ stdout } = await promisify(execFile)(process.execPath, [join(REPO, 'dist', 'scripts', 'bench.js'), '--quick', '--out', outDir], {
    cwd: REPO,
    maxBuffer: 16 * 1024 * 1024,
    // A benchmark, not a timed test: it gets time enough on a busy two-core machine.
    timeout: 600_000,
  }));
  results = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
}, 620_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('prints the Markdown table with every row, and writes it beside the JSON and the chart', () => {
    const table = readFileSync(join(outDir, 'latest.md'), 'utf8').trim();
    expect(stdout).toContain(table);
    const rows = table.split('\n').map((line) => line.split(' | ')[0]!.replace(/^\| /, ''));
    expect(rows.slice(0, 2)).toEqual(['measurement', '---']);
    for (const connections of ['1 connection', '10 connections', '50 connections']) {
      expect(rows).toContain(`session-check, ${connections}: requests/s`);
      expect(rows).toContain(`session-check, ${connections}: p50 / p99 latency (ms)`);
      expect(rows).toContain(`session-check, ${connections}: server CPU per request (µs; Azurite's in brackets)`);
    }
    for (const row of [
      '200 concurrent sign-ins: complete sign-ins/s (requests/s)',
      '200 concurrent sign-ins: p50 / p99 of a whole sign-in (ms)',
      '200 concurrent sign-ins: errors',
      '200 concurrent sign-ins: sessions created',
      '200 concurrent sign-ins: send-code p50 / p99 (ms; the mail queued, not sent: the provider takes 100 ms)',
      '200 queued mails drained by the send-mail trigger: seconds, mails/s (duplicates)',
      '200 concurrent sign-ins (development host): mean transactions per send-code / verify-code / session-check',
      'Table transactions: send-code (invited) (HTTP 202)',
      'Table transactions: send-code (not invited) (HTTP 202)',
      'Table transactions: verify-code (HTTP 200)',
      'Table transactions: session-check (HTTP 200)',
      'Table transactions: sign-out (HTTP 204)',
      'Table transactions: complete sign-in (send-code + verify-code + session-check)',
      'storage round trips on the critical path: send-code (invited) (most of any probe)',
      'storage round trips on the critical path: send-code (not invited) (most of any probe)',
      'storage round trips on the critical path: verify-code (wrong code) (most of any probe)',
      'storage round trips on the critical path: verify-code (not invited, wrong code) (most of any probe)',
      'storage round trips on the critical path: verify-code (most of any probe)',
      IMPORT_ROW,
      IMPORT_UNCACHED_ROW,
      'refused call (past the per-address limits, 100 calls): Table transactions, most / mean',
      'refused calls: rows written (100 calls)',
      'admitted anonymous call (stranger send-code, wrong verify-code): rows written per call',
      'cleanup, 1000 rows stored, 100 expired: transactions (per expired row)',
      'cleanup, 10000 rows stored, 100 expired: transactions (per expired row)',
      "guest listing filtered by state (10 of 20 guests) with 0 stranger rows in the tenant's range: Table rows read (transactions)",
      "guest listing filtered by state (10 of 20 guests) with 2000 stranger rows in the tenant's range: Table rows read (transactions)",
      'a flood the tenant ceilings still admit: CPU per flood call, guestpass host (Azurite) (µs)',
      'a lasting flood, past the tenant ceilings: CPU per flood call, guestpass host (Azurite) (µs)',
      'no oracle, invited guest: send-code / wrong verify-code less a never-seen address\'s (median of 20, ms)',
      'no oracle, accepted guest: send-code / wrong verify-code less a never-seen address\'s (median of 20, ms)',
      'no oracle, blocked guest: send-code / wrong verify-code less a never-seen address\'s (median of 20, ms)',
      ORACLE_TIMING_CHECK,
    ]) {
      expect(rows).toContain(row);
    }
    expect(rows.filter((row) => row.startsWith('send-code median / p90 latency, not invited vs invited'))).toHaveLength(2);
    expect(table).not.toContain('n/a');

    const chart = readFileSync(join(outDir, 'latest.svg'), 'utf8');
    expect(chart.startsWith('<svg')).toBe(true);
    expect(chart.match(/<polyline /g)).toHaveLength(4);
    for (const label of ['guestpass p50', 'guestpass p99', 'baseline p50', 'baseline p99']) expect(chart).toContain(label);
  });

  it('measures session-check and the baseline side by side at 1, 10 and 50 connections, without errors', () => {
    expect(results.mode).toBe('quick');
    expect(results.sessionCheck.map((c) => c.connections)).toEqual([1, 10, 50]);
    for (const comparison of results.sessionCheck) {
      for (const side of [comparison.guestpass, comparison.baseline]) {
        expect(side.requests).toBeGreaterThan(0);
        expect(side.errors).toBe(0);
        expect(side.p99Ms).toBeGreaterThanOrEqual(side.p50Ms);
      }
      for (const value of [comparison.throughputRatio, comparison.p50Ratio, comparison.p99Ratio]) {
        expect(Number.isFinite(value) && value > 0).toBe(true);
      }
    }
  });

  it('signs in 200 guests at once with no error and exactly one session each', () => {
    for (const run of [results.signIn, results.signInCounted]) {
      expect(run.guests).toBe(200);
      expect(run.errors).toBe(0);
      expect(run.completed).toBe(200);
      expect(run.sessionsCreated).toBe(200);
      expect(run.steps.sendCode.statuses).toEqual({ 202: 200 });
      expect(run.steps.verifyCode.statuses).toEqual({ 200: 200 });
      expect(run.steps.sessionCheck.statuses).toEqual({ 200: 200 });
    }
  });

  it('counts Table transactions within the targets, also under the concurrent run', () => {
    const count = (endpoint: string) => results.transactions.find((t) => t.endpoint === endpoint)?.median;
    expect(count('session-check')).toBe(1);
    expect(count('send-code (invited)')).toBeLessThanOrEqual(8);
    expect(count('send-code (not invited)')).toBeLessThanOrEqual(8);
    expect(count('verify-code')).toBeLessThanOrEqual(7);
    expect(count('discovery/keys')).toBe(0);
    expect(results.transactionsPerSignIn).toBe(count('send-code (invited)')! + count('verify-code')! + count('session-check')!);
    const { steps } = results.signInCounted;
    expect(steps.sessionCheck.meanTransactions).toBeGreaterThanOrEqual(1);
    // Under concurrency the mail cap's count is read once per TENANT_CACHE_SECONDS and shared by the burst, so a
    // send-code may cost less than alone, never more than its bound.
    expect(steps.sendCode.meanTransactions).toBeGreaterThanOrEqual(5);
    expect(steps.sendCode.meanTransactions).toBeLessThanOrEqual(8);
    // Timing ratios (throughput, the flood, the import) are reported, not asserted: speed is for the benchmark, never a test.
    expect(results.targets.filter((t) => !t.name.includes('throughput') && !t.name.includes('flood') && t.name !== IMPORT_ROW && t.name !== ORACLE_TIMING_CHECK && !t.holds)).toEqual([]);
  });

  it('measures what refused and anonymous calls cost, cleanup as the tables grow, and a guest during a flood', () => {
    const { refused, anonymous, cleanup, listing, flood, sustainedFlood } = results.abuse;
    expect(listing.map((l) => l.strangerRows)).toEqual([0, 2_000]);
    expect(listing[1]!.rowsRead).toBe(listing[0]!.rowsRead);
    expect(listing[0]!.rowsRead).toBe(2 * listing[0]!.matching);
    expect(refused.maxTransactions).toBeLessThanOrEqual(1);
    expect(refused.rowsWritten).toBe(0);
    expect(anonymous.rowsPerCall).toBeGreaterThan(0);
    expect(cleanup.map((c) => c.stored)).toEqual([1_000, 10_000]);
    expect(cleanup[1]!.transactions).toBe(cleanup[0]!.transactions);
    expect(flood.quietP50Ms).toBeGreaterThan(0);
    expect(flood.floodCalls).toBeGreaterThan(0);
    // The lasting flood is measured once the tenant's ceilings refuse it.
    expect(sustainedFlood.floodCalls).toBeGreaterThan(0);
    expect(sustainedFlood.refusedShare).toBeGreaterThan(0.5);
  });

  it('times send-code for invited and uninvited addresses, and the import of the app against bare node', () => {
    for (const check of [results.enumeration, results.enumerationAfterBurst]) {
      // The mail is queued, not sent, inside send-code: both sides are timed, neither waits for the provider.
      expect(check.invitedMedianMs).toBeGreaterThan(0);
      expect(Number.isFinite(check.ratio) && check.ratio > 0).toBe(true);
    }
    expect(results.mailDrain.mails).toBeGreaterThan(0);
    expect(results.mailDrain.duplicates).toBe(0);
    expect(results.mailDrain.mailsPerSecond).toBeGreaterThan(0);
    expect(results.importTime.appMedianMs).toBeGreaterThan(0);
    expect(Number.isFinite(results.importTime.ratio) && results.importTime.ratio > 0).toBe(true);
    // The bench runs on the Node.js that built the package: its entry takes the code cache; the copy without one compiles from source.
    expect(results.importTime.codeCache).toBe('accepted');
    expect(results.importTime.uncached.codeCache).toBe('none');
    expect(Number.isFinite(results.importTime.uncached.ratio) && results.importTime.uncached.ratio > 0).toBe(true);
  });
});
