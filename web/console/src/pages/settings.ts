import type { Domain, Lifecycle, LifecycleAction, Policy } from '../api.js';
import { fill, type ConsoleContext } from '../context.js';
import { field, h, replace, uid } from '../dom.js';
import { changeOrganizationDefault, domainRule, organizationDefault, passcodeSetting, type DomainRule } from '../policy.js';
import { alertBox, errorText, lines, run, table, UserError } from '../ui.js';

function section(title: string, ...children: (Node | null)[]): HTMLElement {
  const id = uid('section');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** Settings: Entra's tenant properties and External collaboration settings, for one tenant. */
export async function settingsPage(c: ConsoleContext): Promise<HTMLElement> {
  const policies = (await c.api.policies(c.tenantId)).value;
  const passcode = passcodeSection(c, policies);
  return h('div', { class: 'stack' },
    generalSection(c),
    await domainsSection(c),
    passcode.element,
    domainListSection(c, policies, passcode.show),
    await lifecycleSection(c));
}

function generalSection(c: ConsoleContext): HTMLElement {
  const { t } = c;
  const name = h('input', { type: 'text', name: 'displayName', value: c.tenant.displayName, required: true });
  const origins = h('textarea', { name: 'allowedOrigins', rows: 3, spellcheck: 'false', value: c.tenant.allowedOrigins.join('\n') });
  const redirects = h('textarea', { name: 'redirectUris', rows: 3, spellcheck: 'false', value: c.tenant.redirectUris.join('\n') });
  const google = h('input', { type: 'checkbox', name: 'googleFederation', checked: c.tenant.googleFederation, id: uid('google') });
  const alert = alertBox();
  const save = h('button', { type: 'submit' }, t.save);
  const form = h('form', {},
    field(t.settings.displayName, name),
    field(t.settings.allowedOrigins, origins, t.settings.allowedOriginsHint),
    field(t.settings.redirectUris, redirects, t.settings.redirectUrisHint),
    h('div', { class: 'check' }, google, h('label', { for: google.id }, t.settings.googleFederation)),
    alert, save);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(save, alert, t, async () => {
      await c.api.updateTenant(c.tenantId, {
        displayName: name.value.trim(),
        allowedOrigins: lines(origins.value),
        redirectUris: lines(redirects.value),
        googleFederation: google.checked,
      });
      await c.refreshTenant();
      c.announce(t.saved);
    });
  });
  return section(t.settings.general, form);
}

async function domainsSection(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const list = h('div', {});
  const alert = alertBox();
  let domains: Domain[] = (await c.api.domains(c.tenantId)).value;
  const show = () => replace(list, table(t.settings.domains, [
    { label: t.settings.domain, cell: (d: Domain) => d.name },
    { label: t.settings.domainState, cell: (d: Domain) => h('span', { class: `badge domain-${d.state}` }, t.settings.domainStates[d.state]) },
    { label: t.settings.txtRecord, cell: (d: Domain) => d.state === 'Verified' ? c.date(d.verifiedAt) : h('div', { class: 'txt' },
      h('div', {}, `${t.settings.txtName}: `, h('code', {}, d.txtRecord.name)),
      h('div', {}, `${t.settings.txtValue}: `, h('code', {}, d.txtRecord.value))) },
    { label: t.actions, cell: (d: Domain) => {
      const verify: HTMLButtonElement = h('button', { type: 'button', class: 'small', 'aria-label': fill(t.settings.verifyFor, { domain: d.name }), onclick: () => run(verify, alert, t, async () => {
        const verified = await c.api.verifyDomain(c.tenantId, d.name);
        domains = domains.map((other) => (other.name === d.name ? verified : other));
        show();
        c.announce(fill(t.settings.verified, { domain: d.name }));
      }) }, t.settings.verify);
      const removeButton: HTMLButtonElement = h('button', { type: 'button', class: 'small danger', 'aria-label': fill(t.settings.removeFor, { domain: d.name }), onclick: async () => {
        if (!(await c.confirm(fill(t.settings.confirmRemoveDomain, { domain: d.name }), t.remove))) return;
        await run(removeButton, alert, t, async () => {
          await c.api.removeDomain(c.tenantId, d.name);
          domains = domains.filter((other) => other.name !== d.name);
          show();
          c.announce(fill(t.settings.removedDomain, { domain: d.name }));
        });
      } }, t.remove);
      return h('div', { class: 'row-actions' }, d.state === 'Pending' ? verify : null, removeButton);
    } },
  ], domains, t.settings.noDomains));
  show();
  const name = h('input', { type: 'text', name: 'domain', required: true, spellcheck: 'false', placeholder: 'contoso.com' });
  const add = h('button', { type: 'submit' }, t.settings.addDomain);
  const form = h('form', { class: 'inline' }, field(t.settings.newDomain, name), add);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(add, alert, t, async () => {
      domains = [...domains, await c.api.addDomain(c.tenantId, name.value.trim())];
      name.value = '';
      show();
      c.announce(t.saved);
    });
  });
  // The alert right under the list whose Verify or Remove it answers, not below the add form.
  return section(t.settings.domains, h('p', {}, t.settings.domainsIntro), list, alert, form);
}

/** Entra's "Email one-time passcode for guests" Yes/No, written into the organisation-default policy. */
function passcodeSection(c: ConsoleContext, policies: Policy[]): { element: HTMLElement; show: (policy: Policy) => void } {
  const { t } = c;
  const name = uid('otp');
  const yes = h('input', { type: 'radio', name, value: 'yes', id: `${name}-yes` });
  const no = h('input', { type: 'radio', name, value: 'no', id: `${name}-no` });
  const state = h('p', { class: 'hint', id: `${name}-state` });
  /** Shows what a policy says (after this switch or another section wrote it). */
  const describe = (value: boolean | undefined) => {
    yes.checked = value === true;
    no.checked = value === false;
    state.textContent = value === undefined ? t.settings.otpDefault : value ? t.settings.otpOn : t.settings.otpOff;
  };
  describe(passcodeSetting(organizationDefault(policies)));
  const alert = alertBox();
  const save = h('button', { type: 'submit' }, t.save);
  const form = h('form', {},
    h('fieldset', { 'aria-describedby': state.id },
      h('legend', {}, t.settings.otpSwitch),
      h('div', { class: 'radio' }, yes, h('label', { for: yes.id }, t.yes)),
      h('div', { class: 'radio' }, no, h('label', { for: no.id }, t.no))),
    state, h('p', { class: 'hint' }, t.settings.otpEffect), alert, save);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(save, alert, t, async () => {
      if (!yes.checked && !no.checked) throw new UserError(t.settings.otpChoose);
      const policy = await changeOrganizationDefault(c.api, c.tenantId, { passcode: yes.checked });
      describe(passcodeSetting(policy));
      c.announce(t.saved);
    });
  });
  return { element: section(t.settings.otp, form), show: (policy) => describe(passcodeSetting(policy)) };
}

/** InvitationsAllowedAndBlockedDomainsPolicy: invite any domain, all but a deny list, or only an allow list. */
function domainListSection(c: ConsoleContext, policies: Policy[], policyWritten: (policy: Policy) => void): HTMLElement {
  const { t } = c;
  const rule = domainRule(organizationDefault(policies));
  const name = uid('rule');
  const radios = (['any', 'block', 'allow'] as const).map((kind) => h('input', { type: 'radio', name, value: kind, id: `${name}-${kind}`, checked: rule.kind === kind }));
  const list = h('textarea', { name: 'domains', rows: 4, spellcheck: 'false', value: rule.kind === 'any' ? '' : rule.domains.join('\n') });
  const alert = alertBox();
  const save = h('button', { type: 'submit' }, t.save);
  const form = h('form', {},
    h('fieldset', {}, h('legend', {}, t.settings.inviteRestrictions),
      ...radios.map((radio) => h('div', { class: 'radio' }, radio, h('label', { for: radio.id }, t.settings.rules[radio.value as DomainRule['kind']])))),
    field(t.settings.ruleDomains, list, t.settings.ruleDomainsHint), alert, save);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(save, alert, t, async () => {
      const kind = radios.find((radio) => radio.checked)?.value as DomainRule['kind'];
      const domains = lines(list.value).map((domain) => domain.toLowerCase());
      if (kind !== 'any' && domains.length === 0) throw new UserError(t.settings.ruleNeedsDomains);
      const current = organizationDefault((await c.api.policies(c.tenantId)).value);
      // A new policy must also say whether OTP is on; it takes what the tenant has now.
      const passcode = current ? undefined : c.tenant.emailOtp !== 'disabled';
      policyWritten(await changeOrganizationDefault(c.api, c.tenantId, { domains: kind === 'any' ? { kind } : { kind, domains }, passcode }));
      c.announce(t.saved);
    });
  });
  return section(t.settings.collaboration, form);
}

async function lifecycleSection(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const lifecycle = c.tenant.lifecycle;
  const inputs = (Object.keys(t.settings.lifecycleFields) as (keyof Lifecycle)[]).map((key) =>
    [key, h('input', { type: 'number', name: key, min: 1, max: 3650, step: 1, inputmode: 'numeric', value: lifecycle[key] ?? '' })] as const);
  const preview = h('div', { class: 'preview' });
  const alert = alertBox();
  const save = h('button', { type: 'submit' }, t.save);
  const showPreview = async () => {
    try {
      const actions = (await c.api.lifecyclePreview(c.tenantId)).value;
      replace(preview, table(t.settings.previewCaption, [
        { label: t.guests.email, cell: (a: LifecycleAction) => a.email },
        { label: t.settings.previewAction, cell: (a: LifecycleAction) => t.settings.lifecycleActions[a.action] ?? a.action },
        { label: t.settings.previewReason, cell: (a: LifecycleAction) => a.reason },
      ], actions, t.settings.previewNone));
    } catch (error) {
      replace(preview, h('p', { class: 'error', role: 'alert' }, errorText(t, error)));
    }
  };
  const form = h('form', {},
    ...inputs.map(([key, input]) => field(t.settings.lifecycleFields[key], input)),
    h('p', { class: 'hint' }, t.settings.lifecycleHint), alert, save);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(save, alert, t, async () => {
      const next = Object.fromEntries(inputs.map(([key, input]) => [key, input.value.trim() === '' ? null : Number(input.value)]));
      await c.api.updateTenant(c.tenantId, { lifecycle: next });
      await c.refreshTenant();
      c.announce(t.saved);
      await showPreview();
    });
  });
  await showPreview();
  const previewId = uid('preview');
  return section(t.settings.lifecycle, form, h('h3', { id: previewId }, t.settings.nextRun), preview);
}
