import type { WebhookEndpoint } from '../api.js';
import { fill, type ConsoleContext } from '../context.js';
import { field, h, replace, uid } from '../dom.js';
import { alertBox, run, table } from '../ui.js';
import { EVENT_TYPES } from '../../../../lib/events/eventTypes.js';

/** The tenant's webhooks: add one (its secret shown once), list them with their state, see deliveries, rotate, enable, delete. */
export async function webhooksPage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const w = t.webhooks;
  const alert = alertBox();
  const list = h('div', {});
  const shown = h('div', { class: 'created' });
  const deliveries = h('div', {});
  let webhooks = (await c.api.webhooks(c.tenantId)).value;

  async function reload() {
    webhooks = (await c.api.webhooks(c.tenantId)).value;
    show();
  }

  /** A secret in a read-only field with a copy button, shown once. */
  function showSecret(notice: string, secret: string) {
    const value = h('input', { type: 'text', readonly: true, value: secret, class: 'secret', id: uid('secret'), spellcheck: 'false' });
    const copy = h('button', { type: 'button', class: 'secondary', onclick: async () => {
      await navigator.clipboard.writeText(secret).catch(() => value.select());
      c.announce(w.copied);
    } }, w.copy);
    replace(shown, h('div', { class: 'shown-once', role: 'status' },
      h('p', {}, h('strong', {}, notice)),
      h('label', { for: value.id }, w.secretLabel), h('div', { class: 'inline' }, value, copy)));
    value.focus();
    value.select();
  }

  function showDeliveries(endpoint: WebhookEndpoint) {
    const rows = endpoint.recentDeliveries ?? [];
    replace(deliveries, h('h2', {}, fill(w.deliveriesFor, { url: endpoint.url })), table(fill(w.deliveriesCaption, { url: endpoint.url }), [
      { label: w.time, cell: (d) => c.date(d.at) },
      { label: w.type, cell: (d) => d.eventType },
      { label: w.attempt, cell: (d) => String(d.attempt) },
      { label: w.outcome, cell: (d) => (d.outcome === 'delivered' ? w.delivered : w.failed) },
      { label: w.answer, cell: (d) => [d.status === undefined ? '' : String(d.status), d.error ? ` ${d.error}` : ''].join('') },
      { label: w.nextAttempt, cell: (d) => c.date(d.nextAttemptAt) },
    ], rows, w.noDeliveries));
  }

  function stateOf(endpoint: WebhookEndpoint): string {
    if (!endpoint.enabled) return fill(w.disabled, { reason: endpoint.disabledReason ?? '' });
    return endpoint.failingSince ? fill(w.failingSince, { time: c.date(endpoint.failingSince) }) : w.enabled;
  }

  async function remove(endpoint: WebhookEndpoint, button: HTMLButtonElement) {
    if (!(await c.confirm(fill(w.confirmRemove, { url: endpoint.url }), w.remove))) {
      button.focus();
      return;
    }
    await run(button, alert, t, async () => {
      await c.api.deleteWebhook(c.tenantId, endpoint.id);
      c.announce(fill(w.removed, { url: endpoint.url }));
      replace(deliveries);
      await reload();
    });
  }

  function show() {
    replace(list, table(w.caption, [
      { label: w.url, cell: (e: WebhookEndpoint) => [e.url, e.description ? h('div', { class: 'hint' }, e.description) : null] },
      { label: w.events, cell: (e: WebhookEndpoint) => (e.events.length ? e.events.join(', ') : w.allEvents) },
      { label: w.state, cell: (e: WebhookEndpoint) => stateOf(e) },
      { label: w.lastDelivery, cell: (e: WebhookEndpoint) => {
        const last = e.recentDeliveries?.[0];
        return last ? `${c.date(last.at)} · ${last.outcome === 'delivered' ? w.delivered : w.failed}` : null;
      } },
      { label: t.actions, cell: (e: WebhookEndpoint) => {
        const see = h('button', { type: 'button', class: 'small secondary', 'aria-label': fill(w.deliveriesFor, { url: e.url }), onclick: () => showDeliveries(e) }, w.deliveries);
        const rotate: HTMLButtonElement = h('button', { type: 'button', class: 'small secondary', 'aria-label': fill(w.rotateFor, { url: e.url }), onclick: () =>
          run(rotate, alert, t, async () => {
            const rotated = await c.api.rotateWebhookSecret(c.tenantId, e.id);
            showSecret(fill(w.rotated, { url: e.url, time: c.date(rotated.previousSecretValidUntil) }), rotated.secret);
          }) }, w.rotate);
        const enable: HTMLButtonElement = h('button', { type: 'button', class: 'small', 'aria-label': fill(w.enableFor, { url: e.url }), onclick: () =>
          run(enable, alert, t, async () => {
            await c.api.updateWebhook(c.tenantId, e.id, { enabled: true });
            c.announce(fill(w.enabledNotice, { url: e.url }));
            await reload();
          }) }, w.enable);
        const del: HTMLButtonElement = h('button', { type: 'button', class: 'small danger', 'aria-label': fill(w.removeFor, { url: e.url }), onclick: () => remove(e, del) }, w.remove);
        return h('div', { class: 'inline' }, see, rotate, e.enabled ? null : enable, del);
      } },
    ], webhooks, w.none));
  }
  show();

  const url = h('input', { type: 'url', name: 'url', required: true, maxlength: 2048, autocomplete: 'off', placeholder: 'https://' });
  const description = h('input', { type: 'text', name: 'description', maxlength: 256, autocomplete: 'off' });
  const boxes = EVENT_TYPES.map((type) => h('input', { type: 'checkbox', name: 'events', value: type }));
  const legendId = uid('events');
  const events = h('fieldset', { 'aria-describedby': `${legendId}-hint` },
    h('legend', { id: legendId }, w.events),
    h('p', { class: 'hint', id: `${legendId}-hint` }, w.eventsHint),
    ...boxes.map((box) => h('label', { class: 'check' }, box, ` ${box.value}`)));
  const create = h('button', { type: 'submit' }, w.create);
  const headingId = uid('new-webhook');
  const form = h('form', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, w.newWebhook), field(w.url, url, w.urlHint), field(w.description, description), events, create, shown);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(create, alert, t, async () => {
      const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
      const created = await c.api.createWebhook(c.tenantId, {
        url: url.value.trim(),
        ...(chosen.length ? { events: chosen } : {}),
        ...(description.value.trim() ? { description: description.value.trim() } : {}),
      });
      form.reset();
      await reload();
      showSecret(fill(w.createdNotice, { url: created.url }), created.secret);
    });
  });
  return h('div', { class: 'stack' }, form, alert, list, deliveries);
}
