import type { Guest, GuestPage } from '../api.js';
import { fill, type ConsoleContext } from '../context.js';
import { field, h, options, replace, uid } from '../dom.js';
import { alertBox, errorText, Pager, rovingActions, run, table, UserError, type Column } from '../ui.js';

const SOURCES = ['OTP', 'AzureAD', 'MSA', 'Google'] as const;
const STATES = ['PendingAcceptance', 'Accepted', 'Disabled'] as const;
const PAGE_SIZE = 50;

/** The Guests page: Entra's Users list for guests, with its Source column, filters, paging and actions. */
export async function guestsPage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const alert = alertBox();
  const results = h('div', { class: 'results' });
  const filter = { source: '', state: '', search: '' };

  const search = h('input', { type: 'search', name: 'search', autocomplete: 'off', spellcheck: 'false' });
  const source = h('select', { name: 'source' }, ...options([['', t.all], ...SOURCES.map((s): [string, string] => [s, t.sources[s]])]));
  const state = h('select', { name: 'state' }, ...options([['', t.all], ...STATES.map((s): [string, string] => [s, t.states[s]])]));
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': t.guests.filters },
    field(t.guests.search, search, t.guests.searchHint), field(t.guests.source, source), field(t.guests.state, state),
    h('button', { type: 'submit' }, t.apply));

  const pager = new Pager<GuestPage>(
    t,
    (link) => c.api.guests(c.tenantId, { source: filter.source || undefined, state: filter.state || undefined, search: filter.search || undefined, $top: PAGE_SIZE }, link),
    (page) => replace(results, guestTable(page.value)),
  );
  const reload = async () => {
    try {
      alert.textContent = '';
      await pager.reset();
    } catch (error) {
      alert.textContent = errorText(t, error);
    }
  };
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(filter, { search: search.value.trim(), source: source.value, state: state.value });
    void reload();
  });

  const redirectUri = () => c.tenant.redirectUris[0];

  async function resend(guest: Guest, button: HTMLButtonElement, resetRedemption: boolean) {
    await run(button, alert, t, async () => {
      const target = redirectUri();
      if (!target) throw new UserError(t.guests.noRedirectUri);
      await c.api.invite(c.tenantId, { invitedUserEmailAddress: guest.email, inviteRedirectUrl: target, sendInvitationMessage: true, resetRedemption });
      c.announce(fill(resetRedemption ? t.guests.resetDone : t.guests.resent, { email: guest.email }));
      if (resetRedemption) await reload();
    });
  }

  async function remove(guest: Guest, button: HTMLButtonElement) {
    if (!(await c.confirm(fill(t.guests.confirmDelete, { email: guest.email }), t.guests.delete))) {
      button.focus();
      return;
    }
    await run(button, alert, t, async () => {
      await c.api.deleteGuest(c.tenantId, guest.id);
      c.announce(fill(t.guests.deleted, { email: guest.email }));
      await reload();
      results.querySelector<HTMLElement>('table, .empty')?.setAttribute('tabindex', '-1');
      results.querySelector<HTMLElement>('table, .empty')?.focus();
    });
  }

  async function setAccountEnabled(guest: Guest, button: HTMLButtonElement, accountEnabled: boolean) {
    if (!accountEnabled && !(await c.confirm(fill(t.guests.confirmBlock, { email: guest.email }), t.guests.block))) {
      button.focus();
      return;
    }
    await run(button, alert, t, async () => {
      await c.api.setAccountEnabled(c.tenantId, guest.id, accountEnabled);
      c.announce(fill(accountEnabled ? t.guests.unblockedDone : t.guests.blockedDone, { email: guest.email }));
      await reload();
    });
  }

  function actions(guest: Guest): HTMLElement {
    const buttons: HTMLButtonElement[] = [];
    if (guest.state === 'PendingAcceptance') {
      const button: HTMLButtonElement = h('button', { type: 'button', class: 'small secondary', 'aria-label': fill(t.guests.resendFor, { email: guest.email }), onclick: () => resend(guest, button, false) }, t.guests.resend);
      buttons.push(button);
    } else {
      const button: HTMLButtonElement = h('button', { type: 'button', class: 'small secondary', 'aria-label': fill(t.guests.resetFor, { email: guest.email }), onclick: () => resend(guest, button, true) }, t.guests.reset);
      buttons.push(button);
    }
    const blocked = guest.accountEnabled === false;
    const toggle: HTMLButtonElement = h('button', {
      type: 'button',
      class: 'small secondary',
      'aria-label': fill(blocked ? t.guests.unblockFor : t.guests.blockFor, { email: guest.email }),
      onclick: () => setAccountEnabled(guest, toggle, blocked),
    }, blocked ? t.guests.unblock : t.guests.block);
    buttons.push(toggle);
    const del: HTMLButtonElement = h('button', { type: 'button', class: 'small danger', 'aria-label': fill(t.guests.deleteFor, { email: guest.email }), onclick: () => remove(guest, del) }, t.guests.delete);
    buttons.push(del);
    return h('div', { class: 'row-actions' }, ...buttons);
  }

  function guestTable(guests: Guest[]): HTMLElement {
    const columns: Column<Guest>[] = [
      { label: t.guests.displayName, cell: (g) => g.displayName },
      { label: t.guests.email, cell: (g) => g.email },
      { label: t.guests.source, cell: (g) => (g.source ? h('span', { class: `badge source-${g.source}` }, g.source) : h('span', { class: 'muted' }, t.guests.notRedeemed)) },
      { label: t.guests.state, cell: (g) => t.states[g.state as keyof typeof t.states] ?? g.state },
      { label: t.guests.signIn, cell: (g) => (g.accountEnabled === false ? h('span', { class: 'badge blocked' }, t.guests.blocked) : t.guests.allowed) },
      { label: t.guests.invitedAt, cell: (g) => c.date(g.invitedAt) },
      { label: t.guests.redeemed, cell: (g) => c.date(g.redeemedAt) },
      { label: t.guests.lastSignIn, cell: (g) => c.date(g.lastSignInAt) },
      { label: t.actions, cell: actions },
    ];
    const element = table(fill(t.guests.caption, { tenant: c.tenant.displayName }), columns, guests, t.guests.none);
    rovingActions(element);
    return element;
  }

  await pager.reset();
  return h('div', {}, inviteForm(c, reload), filters, alert, results, pager.element);
}

/** Invite one guest, as Graph's POST /invitations. */
function inviteForm(c: ConsoleContext, done: () => Promise<void>): HTMLElement {
  const { t } = c;
  const headingId = uid('invite');
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { type: 'text', name: 'displayName', autocomplete: 'off' });
  const redirect = h('select', { name: 'redirect', required: true }, ...options(c.tenant.redirectUris.map((uri): [string, string] => [uri, uri])));
  const send = h('input', { type: 'checkbox', name: 'send', checked: true });
  // Checked by default for form.reset() too: reset() restores defaultChecked, and the
  // checked property alone would leave the next invitation unmailed.
  send.defaultChecked = true;
  const alert = alertBox();
  const result = h('div', { class: 'result', role: 'status' });
  const submit = h('button', { type: 'submit' }, t.guests.invite);
  const form = h('form', { class: 'card invite', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, t.guests.inviteHeading),
    h('div', { class: 'grid' }, field(t.guests.email, email), field(t.guests.displayName, name), field(t.guests.redirect, redirect, t.guests.redirectHint)),
    h('div', { class: 'check' }, send, h('label', { for: (send.id = uid('send')) }, t.guests.sendMail)),
    alert, submit, result);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(submit, alert, t, async () => {
      result.textContent = '';
      const invitation = await c.api.invite(c.tenantId, {
        invitedUserEmailAddress: email.value.trim(),
        inviteRedirectUrl: redirect.value,
        ...(name.value.trim() ? { invitedUserDisplayName: name.value.trim() } : {}),
        sendInvitationMessage: send.checked,
      });
      replace(result, fill(t.guests.invitedDone, { email: invitation.invitedUserEmailAddress }), ' ', h('code', { class: 'redeem-url' }, invitation.inviteRedeemUrl));
      form.reset();
      await done();
    });
  });
  if (c.tenant.redirectUris.length === 0) {
    submit.disabled = true;
    alert.textContent = t.guests.noRedirectUri;
  }
  return form;
}
