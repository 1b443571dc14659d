import type { AdminKey } from '../api.js';
import { fill, type ConsoleContext } from '../context.js';
import { field, h, replace, uid } from '../dom.js';
import { alertBox, run, table } from '../ui.js';

/** Admin keys of the tenant: create (the key is shown once), list, revoke. */
export async function keysPage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const alert = alertBox();
  const list = h('div', {});
  const created = h('div', { class: 'created' });
  let keys = (await c.api.keys(c.tenantId)).value;
  const current = c.me.kind === 'tenantAdmin' ? c.me.keyId : undefined;

  async function revoke(key: AdminKey, button: HTMLButtonElement) {
    const question = key.id === current ? fill(t.keys.confirmRevokeOwn, { name: key.name }) : fill(t.keys.confirmRevoke, { name: key.name });
    if (!(await c.confirm(question, t.keys.revoke))) {
      button.focus();
      return;
    }
    await run(button, alert, t, async () => {
      await c.api.revokeKey(c.tenantId, key.id);
      c.announce(fill(t.keys.revoked, { name: key.name }));
      // Reading the list again also finds out, with the key just revoked, that this session has ended.
      keys = (await c.api.keys(c.tenantId)).value;
      show();
    });
  }

  function show() {
    replace(list, table(t.keys.caption, [
      { label: t.keys.name, cell: (k: AdminKey) => [k.name, k.id === current ? h('span', { class: 'badge' }, t.keys.thisSession) : null] },
      { label: t.keys.created, cell: (k: AdminKey) => c.date(k.createdAt) },
      { label: t.keys.createdBy, cell: (k: AdminKey) => k.createdBy },
      { label: t.keys.lastUsed, cell: (k: AdminKey) => c.date(k.lastUsedAt) },
      { label: t.keys.state, cell: (k: AdminKey) => (k.revokedAt ? `${t.keys.revokedState} ${c.date(k.revokedAt)}` : t.keys.active) },
      { label: t.actions, cell: (k: AdminKey) => {
        if (k.revokedAt) return null;
        const button: HTMLButtonElement = h('button', { type: 'button', class: 'small danger', 'aria-label': fill(t.keys.revokeFor, { name: k.name }), onclick: () => revoke(k, button) }, t.keys.revoke);
        return button;
      } },
    ], keys, t.keys.none));
  }
  show();

  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 100, autocomplete: 'off' });
  const create = h('button', { type: 'submit' }, t.keys.create);
  const headingId = uid('new-key');
  const form = h('form', { class: 'card', 'aria-labelledby': headingId }, h('h2', { id: headingId }, t.keys.newKey), field(t.keys.name, name), create, created);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(create, alert, t, async () => {
      const key = await c.api.createKey(c.tenantId, name.value.trim());
      const value = h('input', { type: 'text', readonly: true, value: key.key, class: 'secret', id: uid('key'), spellcheck: 'false' });
      const copy = h('button', { type: 'button', class: 'secondary', onclick: async () => {
        await navigator.clipboard.writeText(key.key).catch(() => value.select());
        c.announce(t.keys.copied);
      } }, t.keys.copy);
      replace(created, h('div', { class: 'shown-once', role: 'status' },
        h('p', {}, h('strong', {}, fill(t.keys.createdNotice, { name: key.name }))),
        h('label', { for: value.id }, t.keys.keyLabel), h('div', { class: 'inline' }, value, copy)));
      name.value = '';
      keys = (await c.api.keys(c.tenantId)).value;
      show();
      value.focus();
      value.select();
    });
  });
  return h('div', { class: 'stack' }, form, alert, list);
}
