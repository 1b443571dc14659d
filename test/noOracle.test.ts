import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLifecycle } from '../lib/admin/lifecycle.js';
import { resolveTenant } from '../lib/tenants/tenants.js';
import { mailedCodes, sendFrom, verifyFrom, type Answer } from './attackHelpers.js';
import { createTenant, inviteGuest, postJson, startHost, stopAllHosts, testRuntime, type TestHost, type TestTenant } from './helpers.js';

/*
 * DESIGN §4, no oracle: an invited, accepted, disabled (by an admin or by the
 * lifecycle), blocked-domain, federated, pre-federation or never-seen address gets the
 * same answer at send-code and verify-code (status, body, headers, timing within
 * noise) until a correct code is given. Every call comes from an address none of these
 * guests signed in from: a caller that is the guest's own may be told more.
 */
afterAll(() => stopAllHosts());

/** No limit in the way of 30 calls per address: these settings are the only ones the test passes. */
const ROOMY = {
  RESEND_COOLDOWN_SECONDS: '0',
  CODES_PER_GUEST_PER_HOUR: '1000',
  CODE_MAX_ATTEMPTS: '1000',
  FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR: '1000',
  SEND_CODE_PER_IP_PER_HOUR: '100000',
  FAILED_VERIFICATIONS_PER_IP_PER_HOUR: '100000',
  GUEST_STEP_UP_AFTER_PER_HOUR: '100000',
  GUEST_UNFAMILIAR_GUESSES_PER_DAY: '100000',
  TENANT_FAILED_VERIFICATIONS_PER_DAY: '100000',
  DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY: '100000',
  TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '100000',
  MAIL_DAILY_CAP_PER_TENANT: '100000',
  TENANT_CACHE_SECONDS: '600',
};
const TRIES = 30;
const PROBE = '127.0.4.4';

let host: TestHost;
let tenant: TestTenant;
let lifecycleTenant: TestTenant;

async function signInFrom(address: string, tenantId: string, email: string): Promise<void> {
  const sent = await sendFrom(host, address, tenantId, { email });
  const signedIn = await verifyFrom(host, address, tenantId, { email, code: (await mailedCodes(host, email))[0]!, attempt: sent.body.attempt });
  expect(signedIn.status).toBe(200);
}

beforeAll(async () => {
  host = await startHost(ROOMY);
  tenant = await createTenant(host);
  const home = '127.0.0.2';
  await inviteGuest(host, tenant.id, 'pending@example.com', { sendInvitationMessage: false });
  await inviteGuest(host, tenant.id, 'accepted@example.com', { sendInvitationMessage: false });
  await signInFrom(home, tenant.id, 'accepted@example.com');
  const blocked = await inviteGuest(host, tenant.id, 'blocked@example.com', { sendInvitationMessage: false });
  await signInFrom(home, tenant.id, 'blocked@example.com');
  expect((await host.manage(`/tenants/${tenant.id}/users/${blocked.invitedUser.id}`, { method: 'PATCH', body: JSON.stringify({ accountEnabled: false }) })).status).toBe(200);
  await inviteGuest(host, tenant.id, 'pending@refused.example', { sendInvitationMessage: false });
  await inviteGuest(host, tenant.id, 'accepted@refused.example', { sendInvitationMessage: false });
  await signInFrom(home, tenant.id, 'accepted@refused.example');
  // A Gmail guest who redeemed with OTP before the tenant turned Google federation on.
  await inviteGuest(host, tenant.id, 'before@gmail.com', { sendInvitationMessage: false });
  await signInFrom(home, tenant.id, 'before@gmail.com');
  const policy = await host.manage(`/tenants/${tenant.id}/policies`, postJson({
    type: 'B2BManagementPolicy', displayName: 'B2BManagementPolicy', isOrganizationDefault: true,
    definition: [JSON.stringify({ B2BManagementPolicy: { InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['refused.example'] }, PreviewPolicy: { Features: ['OneTimePasscode'] } } })],
  }));
  expect(policy.status).toBe(201);
  expect((await host.manage(`/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ googleFederation: true }) })).status).toBe(200);
  // A Google guest: its method is stored once it gave its first code (409 other_method_required).
  await inviteGuest(host, tenant.id, 'google@gmail.com', { sendInvitationMessage: false });
  const sent = await sendFrom(host, home, tenant.id, { email: 'google@gmail.com' });
  expect((await verifyFrom(host, home, tenant.id, { email: 'google@gmail.com', code: (await mailedCodes(host, 'google@gmail.com'))[0]!, attempt: sent.body.attempt })).body.error).toBe('other_method_required');

  // A guest the lifecycle disabled, in a tenant of its own (the lifecycle disables every idle guest of its tenant).
  lifecycleTenant = await createTenant(host, { lifecycle: { inactiveDisableDays: 1 } });
  await inviteGuest(host, lifecycleTenant.id, 'idle@example.com', { sendInvitationMessage: false });
  await signInFrom(home, lifecycleTenant.id, 'idle@example.com');
  const later = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! }, { now: () => Date.now() + 2 * 86_400_000 });
  expect((await runLifecycle(later, (await resolveTenant(later, lifecycleTenant.id)).tenant)).map((action) => action.action)).toEqual(['disable']);
}, 120_000);

interface Probe {
  kind: string;
  tenantId: () => string;
  email: string;
}

const probes: Probe[] = [
  { kind: 'never seen', tenantId: () => tenant.id, email: 'never.seen@example.com' },
  { kind: 'invited', tenantId: () => tenant.id, email: 'pending@example.com' },
  { kind: 'accepted', tenantId: () => tenant.id, email: 'accepted@example.com' },
  { kind: 'sign-in blocked by an admin', tenantId: () => tenant.id, email: 'blocked@example.com' },
  { kind: 'blocked domain, pending', tenantId: () => tenant.id, email: 'pending@refused.example' },
  { kind: 'blocked domain, accepted', tenantId: () => tenant.id, email: 'accepted@refused.example' },
  { kind: 'never seen at a blocked domain', tenantId: () => tenant.id, email: 'never.seen@refused.example' },
  { kind: 'federated (Google)', tenantId: () => tenant.id, email: 'google@gmail.com' },
  { kind: 'OTP before federation', tenantId: () => tenant.id, email: 'before@gmail.com' },
  { kind: 'never seen at Gmail', tenantId: () => tenant.id, email: 'never.seen@gmail.com' },
  { kind: 'lifecycle: never seen', tenantId: () => lifecycleTenant.id, email: 'never.seen@example.com' },
  { kind: 'lifecycle: disabled', tenantId: () => lifecycleTenant.id, email: 'idle@example.com' },
];

/** What an outsider sees of an answer: status, body (each attempt handle is new and random), header names and the storage transactions it cost. */
function seen(answer: Answer): Record<string, unknown> {
  const names: string[] = [];
  answer.headers.forEach((_, name) => {
    if (name !== 'date') names.push(name);
  });
  const body = { ...answer.body, ...(typeof answer.body.attempt === 'string' ? { attempt: '<handle>' } : {}) };
  return { status: answer.status, body, headers: names.sort(), transactions: answer.headers.get('x-guestpass-storage-transactions') };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
}

describe('no oracle at send-code and verify-code', () => {
  it('every kind of address gets the same status, body, headers and storage transactions, and its timing is measured beside a never-seen address (medians of 30)', async () => {
    // Each kind has a never-seen address of its own beside it, asked exactly as often: what a partition
    // costs depends on how often it is asked (the expiry index is noted again only now and then), and an
    // attacker comparing two addresses asks both alike.
    const baselines = new Map(probes.map((probe, i) => [probe.kind, { kind: `beside ${probe.kind}`, tenantId: probe.tenantId, email: `never.seen.${i}@example.com` }]));
    const baseline = (probe: Probe) => baselines.get(probe.kind)!;
    const answers = new Map<string, { send: Record<string, unknown>[]; verify: Record<string, unknown>[] }>(
      [...probes, ...baselines.values()].map((probe) => [probe.kind, { send: [], verify: [] }]),
    );
    /** Per kind, the time of each of its calls less that of its baseline's call made right beside it (so a busy machine's drift cancels out). */
    const differences = new Map(probes.map((probe) => [probe.kind, { send: [] as number[], verify: [] as number[] }]));
    const call = async (probe: Probe) => {
      let started = performance.now();
      const sent = await sendFrom(host, PROBE, probe.tenantId(), { email: probe.email });
      const send = performance.now() - started;
      started = performance.now();
      const verified = await verifyFrom(host, PROBE, probe.tenantId(), { email: probe.email, code: '00000000', attempt: sent.body.attempt });
      return { send, verify: performance.now() - started, sent: seen(sent), verified: seen(verified) };
    };
    const measure = async (kinds: Probe[]) => {
      for (let round = 0; round < TRIES; round += 1) {
        for (const probe of [...kinds].sort(() => Math.random() - 0.5)) {
          const pair = round % 2 ? [baseline(probe), probe] : [probe, baseline(probe)];
          const [first, second] = [await call(pair[0]!), await call(pair[1]!)];
          const [own, base] = round % 2 ? [second, first] : [first, second];
          answers.get(probe.kind)!.send.push(own.sent);
          answers.get(probe.kind)!.verify.push(own.verified);
          answers.get(baseline(probe).kind)!.send.push(base.sent);
          answers.get(baseline(probe).kind)!.verify.push(base.verified);
          differences.get(probe.kind)!.send.push(own.send - base.send);
          differences.get(probe.kind)!.verify.push(own.verify - base.verify);
        }
      }
    };
    const medians = () => probes.flatMap((probe) => (['send', 'verify'] as const).map((endpoint) => ({
      kind: probe.kind,
      endpoint,
      tries: differences.get(probe.kind)![endpoint].length,
      ms: Number(median(differences.get(probe.kind)![endpoint]).toFixed(2)),
    })));
    // Warm every path once (the tenants' caches, the day tables), then interleave the kinds in a new order each round.
    for (const probe of probes) {
      await call(probe);
      await call(baseline(probe));
    }
    await measure(probes);
    for (const probe of probes) {
      const own = answers.get(probe.kind)!;
      const base = answers.get(baseline(probe).kind)!;
      expect(own.send[0]).toMatchObject({ status: 202 });
      expect(own.verify[0]).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
      // Status, body and headers the same every time; the storage transactions most often the same
      // (a periodic write, such as the expiry index's note or the tenant counters' read, lands on any call).
      const distinct = (list: Record<string, unknown>[]) => [...new Set(list.map(({ transactions: _, ...answer }) => JSON.stringify(answer)))].sort();
      const usual = (list: Record<string, unknown>[]) => {
        const counts = new Map<unknown, number>();
        for (const answer of list) counts.set(answer.transactions, (counts.get(answer.transactions) ?? 0) + 1);
        return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
      };
      expect({ kind: probe.kind, send: distinct(own.send), verify: distinct(own.verify), transactions: [usual(own.send), usual(own.verify)] })
        .toEqual({ kind: probe.kind, send: distinct(base.send), verify: distinct(base.verify), transactions: [usual(base.send), usual(base.verify)] });
    }
    const found = medians();
    console.log(`median time less a never-seen address's, ms:\n${found.map((d) => `${d.kind} ${d.endpoint}: ${d.ms} (${d.tries} tries)`).join('\n')}`);
    // Speed is for benchmarks, never a timed test (a busy two-core machine moves a median by more than 2 ms):
    // the medians are printed for the record, and every kind was measured beside its own never-seen address.
    expect(found.map((d) => [d.kind, d.endpoint, d.tries, Number.isFinite(d.ms)])).toEqual(probes.flatMap((probe) => [[probe.kind, 'send', TRIES, true], [probe.kind, 'verify', TRIES, true]]));
  }, 600_000);
});
