import type { TableClient, TransactionAction } from '@azure/data-tables';
import { beforeAll, describe, expect, it } from 'vitest';
import { sendCode } from '../lib/signin/sendCode.js';
import { verifyCode } from '../lib/signin/verifyCode.js';
import { GUEST_ROW } from '../lib/guests/guests.js';
import { deleteGuest, getGuest, resetRedemption } from '../lib/guests/guestLifecycle.js';
import { inviteGuest } from '../lib/guests/invitations.js';
import { listOutbox } from '../lib/mail/outbox.js';
import { createPolicy, getPolicy, updatePolicy } from '../lib/tenants/policies.js';
import type { Runtime } from '../lib/runtime.js';
import { invitationBody } from '../lib/schemas.js';
import { checkSession } from '../lib/signin/sessions.js';
import { guestPartition, mapTables } from '../lib/storage/tables.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { REDIRECT_URI, sendQueuedMails, testRuntime } from './helpers.js';

/**
 * The interleavings HTTP tests cannot place: another request committing between an
 * admin operation's read and its write, and an admin operation cut short. In process,
 * on the shared Azurite.
 */
const OPT_IN = '{"B2BManagementPolicy":{"PreviewPolicy":{"Features":["OneTimePasscode"]}}}';

// One runtime for the file: ensureTables creates the tables once per process, for the first prefix.
let shared: Runtime;
beforeAll(async () => {
  shared = await testRuntime();
});

/** The shared runtime with its own copy of the table clients, so a test may wrap their methods. */
function freshRuntime(): Runtime {
  const tables = mapTables(shared.tables, (client) => Object.create(client) as TableClient);
  return { ...shared, tables };
}

async function tenantWithGuest(rt: Runtime, email: string) {
  const tenant = await createTenant(rt, { displayName: 'Race', domains: [], allowedOrigins: [], redirectUris: [REDIRECT_URI], googleFederation: false });
  const invitation = await inviteGuest(rt, tenant.id, invitationBody.parse({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI }));
  return { tenantId: tenant.id, guestId: invitation.invitedUser.id };
}

async function mailedCode(rt: Runtime, tenantId: string, email: string): Promise<string> {
  await sendCode(rt, { tenant: tenantId, email, clientIp: '127.0.0.1' });
  await sendQueuedMails(rt);
  const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 });
  return /\b(\d{8})\b/.exec(mail!.text)![1]!;
}

/** Runs `interloper` once, just before the first transaction that `matches` is committed. */
function beforeTransaction(table: TableClient, matches: (actions: TransactionAction[]) => boolean, interloper: () => Promise<unknown>) {
  const submit = table.submitTransaction.bind(table);
  const seen = { attempts: 0 };
  let done = false;
  table.submitTransaction = async (actions, options) => {
    if (matches(actions)) {
      seen.attempts += 1;
      if (!done) {
        done = true;
        await interloper();
      }
    }
    return submit(actions, options);
  };
  return seen;
}

/** The transaction of a delete: it marks the guest row deleted under its ETag (the row itself goes after). */
const deletesGuestRow = (actions: TransactionAction[]) =>
  actions.some(([action, entity]) => entity.rowKey === GUEST_ROW && (action === 'delete' || 'deletedAt' in entity));

describe('admin operations racing a sign-in', () => {
  it('a sign-in that commits between a delete\'s read and its write is revoked too', async () => {
    const rt = freshRuntime();
    const email = 'race.delete@example.test';
    const { tenantId, guestId } = await tenantWithGuest(rt, email);
    const code = await mailedCode(rt, tenantId, email);
    let raced: { token: string } | undefined;
    const seen = beforeTransaction(rt.tables.guests, deletesGuestRow, async () => {
      raced = await verifyCode(rt, { tenant: tenantId, email, code, clientIp: '127.0.0.1' });
    });

    await deleteGuest(rt, tenantId, guestId);

    expect(seen.attempts).toBe(2);
    await expect(checkSession(rt, tenantId, raced!.token)).rejects.toMatchObject({ code: 'session_revoked' });
    await expect(getGuest(rt, tenantId, guestId)).rejects.toMatchObject({ code: 'guest_not_found' });
  });

  it('a sign-in that commits between a reset\'s read and its write is revoked too', async () => {
    const rt = freshRuntime();
    const email = 'race.reset@example.test';
    const { tenantId, guestId } = await tenantWithGuest(rt, email);
    const code = await mailedCode(rt, tenantId, email);
    let raced: { token: string } | undefined;
    const seen = beforeTransaction(
      rt.tables.guests,
      (actions) => actions.some(([action, entity]) => action === 'update' && entity.rowKey === GUEST_ROW && entity.state === 'PendingAcceptance'),
      async () => {
        raced = await verifyCode(rt, { tenant: tenantId, email, code, clientIp: '127.0.0.1' });
      },
    );

    const reset = await resetRedemption(rt, guestPartition(tenantId, email));

    expect(seen.attempts).toBe(2);
    expect(reset).toMatchObject({ guestId, state: 'PendingAcceptance' });
    expect(reset.source).toBeUndefined();
    await expect(checkSession(rt, tenantId, raced!.token)).rejects.toMatchObject({ code: 'session_revoked' });
    expect(await getGuest(rt, tenantId, guestId)).toMatchObject({ source: null, redeemedAt: null, state: 'PendingAcceptance' });
  });

  it('a code cannot be used once a delete has voided it', async () => {
    const rt = freshRuntime();
    const email = 'race.void@example.test';
    const { tenantId, guestId } = await tenantWithGuest(rt, email);
    const code = await mailedCode(rt, tenantId, email);
    let refused: unknown;
    // The delete's transaction commits first; the sign-in then finds the code voided.
    const submit = rt.tables.guests.submitTransaction.bind(rt.tables.guests);
    rt.tables.guests.submitTransaction = async (actions, options) => {
      const result = await submit(actions, options);
      if (deletesGuestRow(actions)) {
        refused = await verifyCode(rt, { tenant: tenantId, email, code, clientIp: '127.0.0.1' }).catch((error: unknown) => error);
      }
      return result;
    };
    await deleteGuest(rt, tenantId, guestId);
    expect(refused).toMatchObject({ code: 'invalid_code' });
  });
});

describe('admin operations cut short', () => {
  it('a delete cut short before its index row went is finished by repeating it', async () => {
    const rt = freshRuntime();
    const { tenantId, guestId } = await tenantWithGuest(rt, 'cut.short@example.test');
    // What the first transaction of a delete leaves behind when the process stops there.
    await rt.tables.guests.deleteEntity(guestPartition(tenantId, 'cut.short@example.test'), GUEST_ROW);
    await expect(getGuest(rt, tenantId, guestId)).rejects.toMatchObject({ code: 'guest_not_found' });
    await deleteGuest(rt, tenantId, guestId);
    await expect(rt.tables.tenants.getEntity(tenantId, `guest_${guestId}`)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a left-over index row never deletes the guest invited again under a new id', async () => {
    const rt = freshRuntime();
    const email = 'left.over@example.test';
    const { tenantId, guestId } = await tenantWithGuest(rt, email);
    await rt.tables.guests.deleteEntity(guestPartition(tenantId, email), GUEST_ROW);
    const again = await inviteGuest(rt, tenantId, invitationBody.parse({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI }));
    expect(again.invitedUser.id).not.toBe(guestId);

    await expect(deleteGuest(rt, tenantId, guestId)).rejects.toMatchObject({ code: 'guest_not_found' });
    expect(await getGuest(rt, tenantId, again.invitedUser.id)).toMatchObject({ email });
    await expect(rt.tables.tenants.getEntity(tenantId, `guest_${guestId}`)).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('policy writes racing each other', () => {
  it('a policy changed between the read and the write of a PATCH answers 409 policy_conflict and keeps the other change', async () => {
    const rt = freshRuntime();
    const tenant = await createTenant(rt, { displayName: 'Race', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false });
    const policy = await createPolicy(rt, tenant.id, { type: 'B2BManagementPolicy', displayName: 'first', isOrganizationDefault: true, definition: [OPT_IN] });
    beforeTransaction(
      rt.tables.tenants,
      (actions) => actions.some(([, entity]) => entity.displayName === 'mine'),
      () => updatePolicy(rt, tenant.id, policy.id, { displayName: 'theirs' }),
    );
    await expect(updatePolicy(rt, tenant.id, policy.id, { displayName: 'mine' })).rejects.toMatchObject({ code: 'policy_conflict' });
    expect(await getPolicy(rt, tenant.id, policy.id)).toMatchObject({ displayName: 'theirs' });
  });
});
