import { ApiError, ManagementApi, type Me, type Tenant } from './api.js';
import type { ConsoleContext } from './context.js';
import { h, replace, uid } from './dom.js';
import { LANGS, messagesFor, pickLanguage, type Lang, type Messages } from './messages.js';
import { auditPage } from './pages/audit.js';
import { guestsPage } from './pages/guests.js';
import { appRolesPage } from './pages/appRoles.js';
import { keysPage } from './pages/keys.js';
import { webhooksPage } from './pages/webhooks.js';
import { settingsPage } from './pages/settings.js';
import { signInLogsPage } from './pages/signInLogs.js';
import { openTenantForm, tenantsPage } from './pages/tenants.js';
import { errorText } from './ui.js';

/*
 * The operator console. The credential (an admin key or the operator's key) lives in
 * sessionStorage only: it is gone when the tab closes, is never written to
 * localStorage, a cookie or a URL, and is sent only to this origin's API.
 */
const CREDENTIAL = 'guestpass.console.credential';
const TENANT = 'guestpass.console.tenant';
const LANG = 'guestpass.console.lang';

type PageId = 'guests' | 'bulk' | 'roles' | 'settings' | 'sign-ins' | 'audit' | 'keys' | 'webhooks' | 'tenants';
const TENANT_PAGES: PageId[] = ['guests', 'bulk', 'roles', 'settings', 'sign-ins', 'audit', 'keys', 'webhooks'];

const root = document.getElementById('app')!;
const apiBase = new URL('../../', location.href).href;
// `?lang=`, else the language chosen earlier in this tab, else the browser's.
let lang: Lang = pickLanguage([new URLSearchParams(location.search).get('lang') ?? sessionStorage.getItem(LANG), ...navigator.languages]);
let t: Messages = messagesFor(lang);
let session: { api: ManagementApi; me: Me; credential: string } | undefined;
let renderCount = 0;
/** A tenant read started before it is needed (alongside GET /manage/me when the tab is reloaded). */
let prefetched: { id: string; tenant: Promise<Tenant> } | undefined;

const announcer = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });

function announce(text: string): void {
  // A change of text is what a live region reads; clear first so a repeat is read too.
  announcer.textContent = '';
  setTimeout(() => (announcer.textContent = text), 50);
}

function date(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

function confirmDialog(question: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const headingId = uid('dialog');
    const dialog = h('dialog', { 'aria-labelledby': headingId, class: 'dialog' });
    const finish = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    replace(
      dialog,
      h('h2', { id: headingId }, question),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', onclick: () => finish(true) }, confirmLabel),
        h('button', { type: 'button', autofocus: true, onclick: () => finish(false) }, t.cancel)),
    );
    document.body.append(dialog);
    dialog.showModal();
  });
}

function setLang(next: Lang): void {
  lang = next;
  t = messagesFor(lang);
  sessionStorage.setItem(LANG, lang);
  document.documentElement.lang = lang;
  void render();
}

function signOut(reason?: string): void {
  sessionStorage.removeItem(CREDENTIAL);
  sessionStorage.removeItem(TENANT);
  session = undefined;
  history.replaceState(null, '', location.pathname + location.search);
  renderSignIn(reason);
}

function makeApi(credential: string): ManagementApi {
  let signedOut = false;
  return new ManagementApi({
    credential,
    base: apiBase,
    onUnauthorized: () => {
      if (signedOut || session?.credential !== credential) return;
      signedOut = true;
      signOut(t.signedOutRefused);
    },
  });
}

function languagePicker(): HTMLElement {
  const id = uid('lang');
  const select = h('select', { id, onchange: (event: Event) => setLang((event.target as HTMLSelectElement).value as Lang) },
    ...LANGS.map((code) => h('option', { value: code, selected: code === lang, lang: code }, messagesFor(code).languageName)));
  return h('div', { class: 'lang' }, h('label', { for: id }, t.language), select);
}

function renderSignIn(message?: string): void {
  document.title = `${t.signInTitle} · guestpass`;
  const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off', spellcheck: 'false', required: true, id: uid('credential'), 'aria-describedby': 'credential-hint' });
  const error = h('p', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'submit' }, t.signIn);
  const form = h('form', { class: 'card sign-in', 'aria-labelledby': 'sign-in-heading' },
    h('h1', { id: 'sign-in-heading', tabindex: '-1' }, t.signInTitle),
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    h('div', { class: 'field' },
      h('label', { for: input.id }, t.credentialLabel), input,
      h('p', { class: 'hint', id: 'credential-hint' }, t.credentialHint)),
    error, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const credential = input.value.trim();
    if (!credential) return;
    button.disabled = true;
    error.textContent = '';
    try {
      const api = makeApi(credential);
      const me = await new ManagementApi({ credential, base: apiBase, onUnauthorized: () => undefined }).me();
      sessionStorage.setItem(CREDENTIAL, credential);
      session = { api, me, credential };
      if (me.kind === 'tenantAdmin') sessionStorage.setItem(TENANT, me.tenantId);
      location.hash = me.kind === 'tenantAdmin' || sessionStorage.getItem(TENANT) ? '#/guests' : '#/tenants';
      await render();
    } catch (caught) {
      error.textContent = caught instanceof ApiError && caught.status === 401 ? t.credentialRefused : errorText(t, caught);
      button.disabled = false;
      input.focus();
    }
  });
  replace(root, h('header', { class: 'top' }, h('p', { class: 'brand' }, 'guestpass'), languagePicker()), h('main', { id: 'main' }, form), announcer);
  input.focus();
}

function currentPage(): PageId {
  const id = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] as PageId;
  return [...TENANT_PAGES, 'tenants'].includes(id) ? id : 'guests';
}

const PAGE_TITLES = (m: Messages): Record<PageId, string> => ({
  guests: m.nav.guests,
  bulk: m.nav.bulk,
  roles: m.nav.roles,
  settings: m.nav.settings,
  'sign-ins': m.nav.signIns,
  audit: m.nav.audit,
  keys: m.nav.keys,
  webhooks: m.nav.webhooks,
  tenants: m.nav.tenants,
});

async function render(): Promise<void> {
  if (!session) return renderSignIn();
  const render = (renderCount += 1);
  const { api, me } = session;
  let page = currentPage();
  const tenantId = me.kind === 'tenantAdmin' ? me.tenantId : sessionStorage.getItem(TENANT) ?? undefined;
  if (page === 'tenants' && me.kind !== 'operator') page = 'guests';
  if (!tenantId && page !== 'tenants') page = 'tenants';
  const titles = PAGE_TITLES(t);

  const main = h('main', { id: 'main', tabindex: '-1' });
  const heading = h('h1', { tabindex: '-1' }, titles[page]);
  let tenant: Tenant | undefined;
  const links = (me.kind === 'operator' ? (['tenants'] as PageId[]) : []).concat(tenantId ? TENANT_PAGES : []);
  const nav = h('nav', { 'aria-label': t.navLabel },
    h('ul', {}, ...links.map((id) => h('li', {}, h('a', { href: `#/${id}`, 'aria-current': id === page ? 'page' : undefined }, titles[id])))));
  const tenantLabel = h('p', { class: 'tenant' });
  const header = h('header', { class: 'top' },
    h('a', { class: 'skip', href: '#main', onclick: (event: Event) => { event.preventDefault(); main.focus(); } }, t.skipToContent),
    h('p', { class: 'brand' }, 'guestpass'),
    tenantLabel,
    h('p', { class: 'who' }, me.kind === 'operator' ? t.signedInOperator : `${t.signedInKey} ${me.name}`),
    languagePicker(),
    h('button', { type: 'button', class: 'secondary', onclick: () => signOut(t.signedOut) }, t.signOut));
  replace(root, header, nav, main, announcer);
  replace(main, heading, h('p', { class: 'loading', role: 'status' }, t.loading));
  document.title = `${titles[page]} · guestpass`;

  try {
    if (page === 'tenants') {
      replace(main, heading, await tenantsPage({ api, t, date, current: tenantId, open: openTenant }));
    } else {
      const early = prefetched && prefetched.id === tenantId ? prefetched.tenant : undefined;
      prefetched = undefined;
      tenant = await (early ?? api.tenant(tenantId!));
      if (render !== renderCount) return;
      replace(tenantLabel, `${t.tenant}: `, h('strong', {}, tenant.displayName));
      const context: ConsoleContext = {
        api, me, tenantId: tenant.id, tenant, t, lang, announce, date,
        confirm: confirmDialog,
        refreshTenant: async () => (context.tenant = await api.tenant(tenant!.id)),
      };
      // The bulk invite page (and the CSV parser, most of the console's weight) loads when first opened.
      const bulkInvitePage = async (c: ConsoleContext) => (await import('./pages/bulkInvite.js')).bulkInvitePage(c);
      const build = { guests: guestsPage, bulk: bulkInvitePage, roles: appRolesPage, settings: settingsPage, 'sign-ins': signInLogsPage, audit: auditPage, keys: keysPage, webhooks: webhooksPage }[page];
      const content = await build(context);
      if (render !== renderCount) return;
      replace(main, heading, content);
    }
  } catch (caught) {
    if (render !== renderCount || !session) return;
    if (caught instanceof ApiError && caught.code === 'tenant_not_found' && me.kind === 'operator') {
      sessionStorage.removeItem(TENANT);
      replace(main, heading, h('p', { class: 'error', role: 'alert' }, errorText(t, caught)),
        openTenantForm({ api, t, date, current: undefined, open: openTenant }));
      return;
    }
    replace(main, heading, h('p', { class: 'error', role: 'alert' }, errorText(t, caught)));
  }
  // Keyboard and screen reader users land on the new page's heading.
  if (document.activeElement === document.body || !root.contains(document.activeElement)) heading.focus();
}

function openTenant(id: string): void {
  sessionStorage.setItem(TENANT, id);
  if (location.hash === '#/guests') void render();
  else location.hash = '#/guests';
}

window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#/')) void render();
});

document.documentElement.lang = lang;
const stored = sessionStorage.getItem(CREDENTIAL);
if (stored) {
  const api = makeApi(stored);
  session = { api, me: { kind: 'operator' }, credential: stored };
  const storedTenant = sessionStorage.getItem(TENANT);
  if (storedTenant) {
    const tenant = api.tenant(storedTenant);
    tenant.catch(() => undefined); // render() reports it, if it is still wanted
    prefetched = { id: storedTenant, tenant };
  }
  api.me().then(
    (me) => {
      if (session?.credential !== stored) return;
      session.me = me;
      void render();
    },
    (caught) => {
      if (session?.credential === stored && !(caught instanceof ApiError && caught.status === 401)) renderSignIn(errorText(t, caught));
    },
  );
} else {
  renderSignIn();
}
