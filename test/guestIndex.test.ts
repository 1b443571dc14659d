import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseBulkInviteCsv } from '../lib/admin/bulkInviteCsv.js';
import { runLifecycle } from '../lib/admin/lifecycle.js';
import { sendCode } from '../lib/signin/sendCode.js';
import { verifyCode } from '../lib/signin/verifyCode.js';
import { GuestpassError } from '../lib/errors.js';
import { deleteGuest, listGuests } from '../lib/guests/guestLifecycle.js';
import { GUEST_ROW, type GuestEntity, type GuestState, type SignInSource } from '../lib/guests/guests.js';
import { forgetBuiltIndexes, indexAfterChange, indexBeforeChange, indexKeys, indexPartition, withIndexedChange } from '../lib/guests/guestIndex.js';
import { inviteGuest, inviteGuestWithOutcome } from '../lib/guests/invitations.js';
import { listOutbox } from '../lib/mail/outbox.js';
import type { Runtime } from '../lib/runtime.js';
import { createTenantBody, invitationBody, listGuestsQuery, type ListGuestsQuery } from '../lib/schemas.js';
import { countingTransactions, escapeOData, guestPartition } from '../lib/storage/tables.js';
import { createTenant, getTenant } from '../lib/tenants/tenants.js';
import { countRowsRead, writeStrangerRows } from '../scripts/benchAbuse.js';
import { REDIRECT_URI, sendQueuedMails, testRuntime } from './helpers.js';

/*
 * Issue 11: guest listings filtered by source/state read only matching rows. The tenant's
 * guest partitions also hold every row strangers' send-code and verify-code calls write;
 * the listing reads the tenant's guest index instead (lib/guests/guestIndex.ts).
 */

const DAY = 86_400_000;

async function clocked() {
  const clock = { now: Date.now() };
  const rt = await testRuntime({ RESEND_COOLDOWN_SECONDS: '0' }, { now: () => clock.now });
  return { rt, clock };
}

function invite(rt: Runtime, tenantId: string, email: string, extra: Record<string, unknown> = {}) {
  return inviteGuestWithOutcome(rt, tenantId, invitationBody.parse({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI, ...extra }));
}

/** Asks for a code and signs in with it, as a guest would, each from its own client address. */
async function signIn(rt: Runtime, tenantId: string, email: string, clientIp = '203.0.113.9'): Promise<void> {
  await sendCode(rt, { tenant: tenantId, email, clientIp });
  await sendQueuedMails(rt);
  const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 }, rt.now());
  await verifyCode(rt, { tenant: tenantId, email, code: /\b(\d{8})\b/.exec(mail!.text)![1]!, clientIp });
}

/** A Gmail guest of a tenant with Google federation gives its first code: its source becomes Google (409). */
async function redirectToGoogle(rt: Runtime, tenantId: string, email: string): Promise<void> {
  await sendCode(rt, { tenant: tenantId, email, clientIp: '203.0.113.10' });
  await sendQueuedMails(rt);
  const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 }, rt.now());
  const refused = await verifyCode(rt, { tenant: tenantId, email, code: /\b(\d{8})\b/.exec(mail!.text)![1]!, clientIp: '203.0.113.10' }).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(GuestpassError);
  expect((refused as GuestpassError).code).toBe('other_method_required');
}

async function list(rt: Runtime, tenantId: string, query: Record<string, string> = {}): Promise<{ emails: string[]; states: GuestState[]; skipToken?: string }> {
  const page = await listGuests(rt, tenantId, listGuestsQuery.parse(query) as ListGuestsQuery);
  return { emails: page.value.map((g) => g.email), states: page.value.map((g) => g.state), ...(page.skipToken ? { skipToken: page.skipToken } : {}) };
}

/** The tenant's index rows (without the build marker), with their ETags. */
async function indexRows(rt: Runtime, tenantId: string): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  const filter = `PartitionKey eq '${escapeOData(indexPartition(tenantId))}' and RowKey ne 'built'`;
  for await (const row of rt.tables.guests.listEntities({ queryOptions: { filter } })) rows.set(row.rowKey!, row.etag);
  return rows;
}

/** The index holds exactly the rows of the guests' current states and sources: none missing, none stale. */
async function expectIndexTrue(rt: Runtime, tenantId: string, guests: { email: string; state: GuestState; source?: SignInSource }[]): Promise<void> {
  const expected = guests.flatMap((guest) => indexKeys(guest)).sort();
  expect([...(await indexRows(rt, tenantId)).keys()].sort()).toEqual(expected);
}

async function rowsInTenantRange(rt: Runtime, tenantId: string): Promise<number> {
  let rows = 0;
  const filter = `PartitionKey ge '${tenantId}_' and PartitionKey lt '${tenantId}\`'`;
  for await (const _row of rt.tables.guests.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) rows += 1;
  return rows;
}

describe('guest listings read the guest index, not what strangers wrote', () => {
  it('filtered by state, source, both and address prefix: exactly the matching guests, in address order, reading the matching index rows and guest rows whether 0 or 2,000 stranger rows share the range', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Flooded', redirectUris: [REDIRECT_URI], googleFederation: true }));
    const guests: { email: string; state: GuestState; source?: SignInSource }[] = [];
    for (const email of ['bea@example.test', 'carl@example.test', 'ann@example.test', 'bo@example.test']) {
      await invite(rt, tenant.id, email);
      guests.push({ email, state: 'PendingAcceptance' });
    }
    for (const [i, email] of ['dora@example.test', 'bert@example.test', 'al@example.test'].entries()) {
      await invite(rt, tenant.id, email);
      await signIn(rt, tenant.id, email, `203.0.113.${20 + i}`);
      guests.push({ email, state: 'Accepted', source: 'OTP' });
    }
    for (const email of ['gus@gmail.com', 'bob@gmail.com']) {
      await invite(rt, tenant.id, email);
      await redirectToGoogle(rt, tenant.id, email);
      guests.push({ email, state: 'PendingAcceptance', source: 'Google' });
    }
    await expectIndexTrue(rt, tenant.id, guests);

    const queries: Record<string, string>[] = [
      {},
      { state: 'Accepted' },
      { state: 'PendingAcceptance' },
      { source: 'OTP' },
      { source: 'Google' },
      { state: 'PendingAcceptance', source: 'Google' },
      { state: 'Accepted', source: 'OTP', search: 'b' },
      { state: 'PendingAcceptance', search: 'b' },
      { search: 'bob@gmail.com' },
      { source: 'MSA' },
    ];
    const expected = (query: Record<string, string>) =>
      guests
        .filter((g) => (!query.state || g.state === query.state) && (!query.source || g.source === query.source) && (!query.search || g.email.startsWith(query.search)))
        .map((g) => g.email)
        .sort();
    const counter = countRowsRead(rt.tables.guests);
    const measure = async () => {
      const results = [];
      for (const query of queries) {
        counter.rows = 0;
        const { result, transactions } = await countingTransactions(() => list(rt, tenant.id, query));
        results.push({ query, emails: result.emails, rows: counter.rows, transactions });
      }
      return results;
    };

    // The first listing builds the index (its guests are in it from their invitations on) and marks it built.
    await list(rt, tenant.id);
    const quiet = await measure();
    for (const { query, emails, rows, transactions } of quiet) {
      const matching = expected(query);
      expect(emails, JSON.stringify(query)).toEqual(matching);
      // The matching index rows and the matching guest rows; one query and a point read per guest.
      expect(rows, JSON.stringify(query)).toBe(2 * matching.length);
      expect(transactions, JSON.stringify(query)).toBe(1 + matching.length);
    }

    await writeStrangerRows(rt, tenant.id, 500);
    // Real strangers too, through send-code itself.
    for (let i = 0; i < 5; i += 1) await sendCode(rt, { tenant: tenant.id, email: `real.stranger${i}@example.test`, clientIp: `198.51.100.${i + 1}` });
    expect(await rowsInTenantRange(rt, tenant.id)).toBeGreaterThan(2_000);
    const flooded = await measure();
    expect(flooded).toEqual(quiet);
    console.log(`guest listing, ${guests.length} guests, rows read quiet vs with 2,000+ stranger rows: ${quiet.map((q) => `${JSON.stringify(q.query)} ${q.rows}/${flooded.find((f) => f.query === q.query)!.rows}`).join('; ')}`);
  });

  it('pages in address order with $skiptoken, skipping index rows whose guest is gone or no longer matches', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Paged', redirectUris: [REDIRECT_URI] }));
    const emails = Array.from({ length: 7 }, (_, i) => `p${String.fromCharCode(103 - i)}@example.test`);
    for (const email of emails) await invite(rt, tenant.id, email);
    // A change cut short after its new index rows (pf would be Accepted), and a guest gone without its index rows taken out.
    await indexBeforeChange(rt, tenant.id, { email: 'pf@example.test', state: 'PendingAcceptance' }, { email: 'pf@example.test', state: 'Accepted', source: 'OTP' });
    await rt.tables.guests.deleteEntity(guestPartition(tenant.id, 'pd@example.test'), GUEST_ROW);

    const seen: string[] = [];
    let page = await list(rt, tenant.id, { $top: '2' });
    seen.push(...page.emails);
    while (page.skipToken) {
      page = await list(rt, tenant.id, { $top: '2', $skiptoken: page.skipToken });
      seen.push(...page.emails);
    }
    expect(seen).toEqual(emails.filter((e) => e !== 'pd@example.test').sort());
    expect((await list(rt, tenant.id, { state: 'Accepted' })).emails).toEqual([]);
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance', search: 'pf@' })).emails).toEqual(['pf@example.test']);
  });
});

describe('every writer keeps the guest index true', () => {
  it('invite, redeem, a source found at send-code, disable, reinvite with resetRedemption, delete: listed as they are, no index row missing or stale', async () => {
    const { rt, clock } = await clocked();
    const created = await createTenant(rt, createTenantBody.parse({ displayName: 'Writers', redirectUris: [REDIRECT_URI], googleFederation: true, lifecycle: { inactiveDisableDays: 10 } }));
    const id = created.id;

    const ada = (await invite(rt, id, 'ada@example.test')).invitation.invitedUser.id;
    await invite(rt, id, 'gil@gmail.com');
    expect((await list(rt, id, { state: 'PendingAcceptance' })).emails).toEqual(['ada@example.test', 'gil@gmail.com']);
    await expectIndexTrue(rt, id, [{ email: 'ada@example.test', state: 'PendingAcceptance' }, { email: 'gil@gmail.com', state: 'PendingAcceptance' }]);

    await signIn(rt, id, 'ada@example.test');
    expect((await list(rt, id, { state: 'Accepted', source: 'OTP' })).emails).toEqual(['ada@example.test']);
    expect((await list(rt, id, { state: 'PendingAcceptance' })).emails).toEqual(['gil@gmail.com']);
    await redirectToGoogle(rt, id, 'gil@gmail.com');
    expect((await list(rt, id, { source: 'Google' })).emails).toEqual(['gil@gmail.com']);
    const redeemed = [{ email: 'ada@example.test', state: 'Accepted', source: 'OTP' }, { email: 'gil@gmail.com', state: 'PendingAcceptance', source: 'Google' }] as const;
    await expectIndexTrue(rt, id, [...redeemed]);

    // Signing in again changes neither state nor source: no index row is written.
    const before = await indexRows(rt, id);
    clock.now += 60_000;
    await signIn(rt, id, 'ada@example.test');
    expect(await indexRows(rt, id)).toEqual(before);

    clock.now += 11 * DAY;
    expect((await runLifecycle(rt, await getTenant(rt, id))).map((a) => a.action)).toEqual(['disable']);
    expect((await list(rt, id, { state: 'Disabled' })).emails).toEqual(['ada@example.test']);
    expect((await list(rt, id, { state: 'Accepted' })).emails).toEqual([]);
    await expectIndexTrue(rt, id, [{ email: 'ada@example.test', state: 'Disabled', source: 'OTP' }, redeemed[1]]);

    // Enabled again: reinvited with resetRedemption (and the Google guest reset too).
    expect((await invite(rt, id, 'ada@example.test', { resetRedemption: true })).outcome).toBe('reset');
    expect((await invite(rt, id, 'gil@gmail.com', { resetRedemption: true })).outcome).toBe('reset');
    expect((await list(rt, id, { state: 'PendingAcceptance' })).emails).toEqual(['ada@example.test', 'gil@gmail.com']);
    expect((await list(rt, id, { source: 'Google' })).emails).toEqual([]);
    await expectIndexTrue(rt, id, [{ email: 'ada@example.test', state: 'PendingAcceptance' }, { email: 'gil@gmail.com', state: 'PendingAcceptance' }]);

    await deleteGuest(rt, id, ada);
    expect((await list(rt, id)).emails).toEqual(['gil@gmail.com']);
    await expectIndexTrue(rt, id, [{ email: 'gil@gmail.com', state: 'PendingAcceptance' }]);
  });

  it("a bulk invitation from Entra's CSV template indexes every guest it creates", async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Bulk', redirectUris: [REDIRECT_URI] }));
    const emails = Array.from({ length: 30 }, (_, i) => `bulk${String(i).padStart(2, '0')}@example.test`);
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]',
      ...emails.map((email) => `${email},${REDIRECT_URI},false,`),
    ].join('\r\n');
    const file = parseBulkInviteCsv(csv);
    expect(file.errors).toEqual([]);
    // As the CLI and the console send them: several at once.
    await Promise.all(file.rows.map((row) => inviteGuest(rt, tenant.id, invitationBody.parse({ invitedUserEmailAddress: row.email, inviteRedirectUrl: row.redirectUrl, sendInvitationMessage: row.sendEmail }))));
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance' })).emails).toEqual(emails);
    await expectIndexTrue(rt, tenant.id, emails.map((email) => ({ email, state: 'PendingAcceptance' as const })));
  });
});

describe('index keys', () => {
  it('hold any address a guest may have: `/ \\ # ?` in the local part, 254 characters; searched by prefix and in address order', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Keys', redirectUris: [REDIRECT_URI] }));
    const long = `${'l'.repeat(64)}@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(56)}.test`;
    expect(long).toHaveLength(254);
    const odd = ["o'brien#1/x?y@example.test", 'o.brien@example.test', 'o~brien@example.test', 'o!brien@example.test'];
    for (const email of [long, ...odd]) await invite(rt, tenant.id, email);
    expect((await list(rt, tenant.id)).emails).toEqual([long, ...odd].sort());
    expect((await list(rt, tenant.id, { search: "o'brien#1/x?" })).emails).toEqual(["o'brien#1/x?y@example.test"]);
    expect((await list(rt, tenant.id, { search: 'o' })).emails).toEqual([...odd].sort());
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance', search: long })).emails).toEqual([long]);
    // Nothing a normalised address starts with: no guest, and nothing read.
    expect((await list(rt, tenant.id, { search: 'ö' })).emails).toEqual([]);
  });
});

describe('guests written before the index existed', () => {
  /** A guest row as the code before the index wrote it: the guest row and the id index row, no listing rows. */
  async function oldGuest(rt: Runtime, tenantId: string, email: string, state: GuestState, source?: SignInSource, extra: Record<string, unknown> = {}): Promise<void> {
    const partitionKey = guestPartition(tenantId, email);
    const guest: GuestEntity & { partitionKey: string; rowKey: string } = {
      partitionKey,
      rowKey: GUEST_ROW,
      guestId: randomUUID(),
      tenantId,
      email,
      displayName: email,
      state,
      ...(source ? { source } : {}),
      invitedAt: new Date(rt.now()).toISOString(),
      inviteRedirectUrl: REDIRECT_URI,
      ...extra,
    };
    await rt.tables.tenants.createEntity({ partitionKey: tenantId, rowKey: `guest_${guest.guestId}`, guestPartition: partitionKey });
    await rt.tables.guests.createEntity(guest);
  }

  it('are listed once the index is built on first need, and a build cut short resumes where it stopped', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Old', redirectUris: [REDIRECT_URI] }));
    const old = [
      ['old.ann@example.test', 'Accepted', 'OTP'],
      ['old.bo@example.test', 'PendingAcceptance', undefined],
      ['old.cy@gmail.com', 'PendingAcceptance', 'Google'],
      ['old.di@example.test', 'Disabled', 'OTP'],
      ['old.ed@example.test', 'Accepted', 'MSA'],
    ] as const;
    for (const [email, state, source] of old) await oldGuest(rt, tenant.id, email, state, source);
    // A delete cut short before its last step leaves a guest row marked deleted: no guest.
    await oldGuest(rt, tenant.id, 'old.gone@example.test', 'Accepted', 'OTP', { deletedAt: rt.now() });
    await writeStrangerRows(rt, tenant.id, 20);
    expect(await indexRows(rt, tenant.id)).toEqual(new Map());

    // An earlier build got past the first two guest partitions (in key order) and wrote their rows.
    const byPartition = old.map(([email, state, source]) => ({ email, state, source, partitionKey: guestPartition(tenant.id, email) })).sort((a, b) => (a.partitionKey < b.partitionKey ? -1 : 1));
    for (const guest of byPartition.slice(0, 2)) await indexBeforeChange(rt, tenant.id, undefined, guest);
    await rt.tables.guests.upsertEntity({ partitionKey: indexPartition(tenant.id), rowKey: 'built', after: byPartition[1]!.partitionKey, done: false }, 'Replace');

    const counter = countRowsRead(rt.tables.guests);
    expect((await list(rt, tenant.id)).emails).toEqual(old.map(([email]) => email));
    // The marker, the guest rows past it (the resumed scan; strangers' rows are not guest rows), then 5 index rows and 5 guest rows.
    const scanned = byPartition.slice(2).length + Number(guestPartition(tenant.id, 'old.gone@example.test') > byPartition[1]!.partitionKey);
    expect(counter.rows).toBe(1 + scanned + 5 + 5);
    expect((await list(rt, tenant.id, { state: 'Accepted' })).emails).toEqual(['old.ann@example.test', 'old.ed@example.test']);
    expect((await list(rt, tenant.id, { source: 'Google' })).emails).toEqual(['old.cy@gmail.com']);
    expect((await list(rt, tenant.id, { state: 'Disabled', source: 'OTP' })).emails).toEqual(['old.di@example.test']);
    await expectIndexTrue(rt, tenant.id, old.map(([email, state, source]) => ({ email, state, ...(source ? { source } : {}) })));

    // Built and marked so: another instance reads the marker and builds nothing.
    forgetBuiltIndexes(rt);
    counter.rows = 0;
    expect((await list(rt, tenant.id, { source: 'MSA' })).emails).toEqual(['old.ed@example.test']);
    expect(counter.rows).toBe(1 + 2);
  });

  it('a guest changed before its tenant was built (no index rows of its old state) still changes and is listed', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Old', redirectUris: [REDIRECT_URI] }));
    await oldGuest(rt, tenant.id, 'old.fay@example.test', 'PendingAcceptance');
    // Redeemed before any listing built the index: the stale-row delete finds no old row to take out.
    await signIn(rt, tenant.id, 'old.fay@example.test');
    expect((await list(rt, tenant.id, { state: 'Accepted', source: 'OTP' })).emails).toEqual(['old.fay@example.test']);
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance' })).emails).toEqual([]);
    await expectIndexTrue(rt, tenant.id, [{ email: 'old.fay@example.test', state: 'Accepted', source: 'OTP' }]);
  });
});

describe('a change cut short or raced never hides a guest', () => {
  it('a reset that lands between a redemption and its removal of the old rows keeps the rows it needs', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Race', redirectUris: [REDIRECT_URI] }));
    await invite(rt, tenant.id, 'race@example.test');
    await list(rt, tenant.id); // the index is built (and not built again by the listings below)
    const partitionKey = guestPartition(tenant.id, 'race@example.test');
    const pending = { email: 'race@example.test', state: 'PendingAcceptance' } as const;
    const accepted = { email: 'race@example.test', state: 'Accepted', source: 'OTP' } as const;
    const setGuest = (state: GuestState, source: string) => rt.tables.guests.updateEntity({ partitionKey, rowKey: GUEST_ROW, state, source }, 'Merge');

    // The redemption writes its rows and the guest row, then stalls before taking out its old rows.
    const redemption = await indexBeforeChange(rt, tenant.id, pending, accepted);
    await setGuest('Accepted', 'OTP');
    // The reset runs whole meanwhile: PendingAcceptance again.
    await withIndexedChange(rt, tenant.id, accepted, pending, () => setGuest('PendingAcceptance', ''));
    await indexAfterChange(rt, redemption);

    expect((await list(rt, tenant.id, { state: 'PendingAcceptance' })).emails).toEqual(['race@example.test']);
    expect((await list(rt, tenant.id, { state: 'Accepted' })).emails).toEqual([]);
  });

  it('an invitation that lands while the address is being deleted stays listed', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Race', redirectUris: [REDIRECT_URI] }));
    await invite(rt, tenant.id, 'again@example.test');
    await list(rt, tenant.id);
    const partitionKey = guestPartition(tenant.id, 'again@example.test');
    const guest = { email: 'again@example.test', state: 'PendingAcceptance' } as const;
    // The deletion takes its rows' ETags and removes the guest row, then stalls.
    const deletion = await indexBeforeChange(rt, tenant.id, guest, undefined);
    await rt.tables.guests.deleteEntity(partitionKey, GUEST_ROW);
    await invite(rt, tenant.id, 'again@example.test');
    await indexAfterChange(rt, deletion);
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance' })).emails).toEqual(['again@example.test']);
  });

  it('after its new index rows but before the guest row, and after the guest row but before the old rows go: listed as the guest row says', async () => {
    const { rt } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Crash', redirectUris: [REDIRECT_URI] }));
    await invite(rt, tenant.id, 'cut@example.test');
    const pending = { email: 'cut@example.test', state: 'PendingAcceptance' } as const;
    const accepted = { email: 'cut@example.test', state: 'Accepted', source: 'OTP' } as const;

    // Stopped after the index step: still PendingAcceptance, and listed so.
    await indexBeforeChange(rt, tenant.id, pending, accepted);
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance' })).emails).toEqual(['cut@example.test']);
    expect((await list(rt, tenant.id, { state: 'Accepted' })).emails).toEqual([]);

    // Stopped after the guest row changed, before the old rows were taken out: Accepted, and listed so.
    await rt.tables.guests.updateEntity({ partitionKey: guestPartition(tenant.id, pending.email), rowKey: GUEST_ROW, state: 'Accepted', source: 'OTP' }, 'Merge');
    expect((await list(rt, tenant.id, { state: 'Accepted', source: 'OTP' })).emails).toEqual(['cut@example.test']);
    expect((await list(rt, tenant.id, { state: 'PendingAcceptance' })).emails).toEqual([]);
    expect((await list(rt, tenant.id)).emails).toEqual(['cut@example.test']);
  });
});
