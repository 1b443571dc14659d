import { GuestpassApiError, GuestpassClient, type CodeSent, type Session } from './client.js';
import { formatWait, MESSAGES, pickLanguage, type Language, type Messages } from './messages.js';
import { SIGN_IN_STYLE as STYLE } from './signInStyle.js';

/**
 * `<guestpass-sign-in tenant="contoso.com" api="https://…/api" persist="session">`: the
 * email one-time passcode flow of Azure AD B2B as one element. It reads `tenant`,
 * `login_hint` and `invitation` from the page URL (an invitation's inviteRedeemUrl
 * carries all three; they win over the attributes), speaks English, Swedish or German (its `lang` attribute,
 * else the browser's languages), and emits `code-sent`, `signed-in` (detail: the
 * Session) and `signed-out`, all bubbling out of its shadow root.
 */
type Step = 'checking' | 'email' | 'code' | 'signed-in';


const TEMPLATE = `
<div class="panel" part="panel">
  <h2 id="heading" tabindex="-1" part="heading"></h2>
  <form id="email-step" novalidate hidden>
    <p id="intro"></p>
    <div id="email-field">
      <label for="email" id="email-label"></label>
      <input id="email" name="email" type="email" autocomplete="email" spellcheck="false" autocapitalize="off" required aria-describedby="error">
    </div>
    <div class="actions"><button type="submit" class="primary" id="send" part="button"></button></div>
    <div class="linkrow"><button type="button" class="link" id="other-address"></button></div>
  </form>
  <form id="code-step" novalidate hidden>
    <p id="code-intro"></p>
    <label for="code" id="code-label"></label>
    <input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9 ]*" maxlength="16" spellcheck="false" required aria-describedby="code-intro error">
    <div class="actions">
      <button type="submit" class="primary" id="verify" part="button"></button>
      <button type="button" class="secondary" id="resend"></button>
    </div>
    <p class="hint" id="junk"></p>
    <div class="linkrow"><button type="button" class="link" id="back"></button></div>
  </form>
  <div id="signed-in-step" hidden>
    <p id="signed-in-as"></p>
    <div class="actions"><button type="button" class="secondary" id="sign-out" part="button"></button></div>
  </div>
  <p class="error" id="error" role="alert" part="error"></p>
  <p class="status" id="status" role="status" aria-live="polite" part="status"></p>
</div>`;

/** A message with `{name}` placeholders as DOM nodes: values become text (an email in <strong>), never HTML. */
function fill(target: HTMLElement, template: string, values: Record<string, string | number>, strong: string[] = []): void {
  target.replaceChildren(
    ...template.split(/(\{[a-z]+\})/).map((part) => {
      const name = /^\{([a-z]+)\}$/.exec(part)?.[1];
      if (!name || !(name in values)) return document.createTextNode(part);
      const text = String(values[name]);
      if (!strong.includes(name)) return document.createTextNode(text);
      const element = document.createElement('strong');
      element.textContent = text;
      return element;
    }),
  );
}

function text(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{([a-z]+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class GuestpassSignIn extends HTMLElement {
  static readonly observedAttributes = ['tenant', 'api', 'lang', 'login-hint', 'persist'];

  readonly #root: ShadowRoot;
  #client: GuestpassClient | undefined;
  #step: Step = 'email';
  #email = '';
  #editingEmail = false;
  #expiresInSeconds = 0;
  #resendAt = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #connected = false;
  #restartQueued = false;
  /** Bumped by every start, so an answer that arrives after a later start is ignored. */
  #generation = 0;
  #onSessionChange = (event: Event) => {
    if ((event as CustomEvent<Session | null>).detail === null && this.#step === 'signed-in') this.#signedOut();
  };

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = `<style>${STYLE}</style>${TEMPLATE}`;
    this.#$('email-step').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#sendCode();
    });
    this.#$('code-step').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#verify();
    });
    this.#$('resend').addEventListener('click', () => void this.#resend());
    this.#$('other-address').addEventListener('click', () => this.#editEmail());
    this.#$('back').addEventListener('click', () => this.#editEmail());
    this.#$('sign-out').addEventListener('click', () => void this.signOut());
  }

  /** The client this element signs in with (undefined until it has a tenant). */
  get client(): GuestpassClient | undefined {
    return this.#client;
  }

  get session(): Session | undefined {
    return this.#client?.session;
  }

  get language(): Language {
    return pickLanguage([this.getAttribute('lang'), ...(navigator.languages ?? []), navigator.language]);
  }

  async signOut(): Promise<void> {
    this.#clearMessages();
    try {
      await this.#client?.signOut();
    } catch (error) {
      this.#showError(error, 'send');
    }
  }

  connectedCallback(): void {
    this.#connected = true;
    this.#restart();
  }

  disconnectedCallback(): void {
    this.#connected = false;
    this.#stopCountdown();
    this.#client?.removeEventListener('sessionchange', this.#onSessionChange);
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (!this.#connected || before === after) return;
    if (name === 'lang') this.#render();
    else this.#restart();
  }

  /** Several attributes set in one go (or an upgrade) start the flow once. */
  #restart(): void {
    if (this.#restartQueued) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      if (this.#connected) void this.#start();
    });
  }

  get #messages(): Messages {
    return MESSAGES[this.language];
  }

  #$<T extends HTMLElement = HTMLElement>(id: string): T {
    return this.#root.getElementById(id) as T;
  }

  async #start(): Promise<void> {
    const generation = ++this.#generation;
    const page = new URLSearchParams(location.search);
    const tenant = page.get('tenant') ?? this.getAttribute('tenant');
    this.#client?.removeEventListener('sessionchange', this.#onSessionChange);
    this.#stopCountdown();
    this.#clearMessages();
    this.#email = page.get('login_hint') ?? this.getAttribute('login-hint') ?? '';
    this.#editingEmail = !this.#email;
    if (!tenant) {
      this.#client = undefined;
      this.#show('email');
      this.#$('email-step').hidden = true;
      this.#$('error').textContent = this.#messages.error.no_tenant;
      return;
    }
    this.#client = new GuestpassClient({
      tenant,
      api: this.getAttribute('api') ?? undefined,
      persist: this.getAttribute('persist') === 'session' ? 'session' : 'memory',
      invitation: page.get('invitation') ?? undefined,
    });
    this.#client.addEventListener('sessionchange', this.#onSessionChange);
    if (!this.#client.session) return this.#show('email');

    // A session kept in sessionStorage: ask the server whether it still stands.
    this.#show('checking');
    this.#status(this.#messages.checkingSession);
    try {
      await this.#client.checkSession();
      if (generation !== this.#generation) return;
      this.#status('');
      this.#signedIn(false);
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#status('');
      this.#show('email');
      this.#showError(error, 'send');
    }
  }

  #show(step: Step, focus?: HTMLElement): void {
    this.#step = step;
    this.#$('email-step').hidden = step !== 'email';
    this.#$('code-step').hidden = step !== 'code';
    this.#$('signed-in-step').hidden = step !== 'signed-in';
    this.#render();
    focus?.focus();
  }

  /** Puts every text in the current language; called on each step change and on a `lang` change. */
  #render(): void {
    const m = this.#messages;
    this.#$('heading').closest('.panel')!.setAttribute('lang', this.language);
    this.#$('heading').textContent = this.#step === 'code' ? m.codeHeading : this.#step === 'signed-in' ? m.signedInHeading : m.heading;
    fill(this.#$('intro'), this.#editingEmail ? m.introUnknown : m.introKnown, { email: this.#email }, ['email']);
    this.#$('email-field').hidden = !this.#editingEmail;
    this.#$('other-address').hidden = this.#editingEmail;
    this.#$('email-label').textContent = m.emailLabel;
    this.#$('send').textContent = m.sendCode;
    this.#$('other-address').textContent = m.useAnotherAddress;
    fill(this.#$('code-intro'), m.codeSent, { email: this.#email, minutes: Math.ceil(this.#expiresInSeconds / 60) }, ['email']);
    this.#$('code-label').textContent = m.codeLabel;
    this.#$('verify').textContent = m.verify;
    this.#$('junk').textContent = m.checkJunk;
    this.#$('back').textContent = m.useAnotherAddress;
    fill(this.#$('signed-in-as'), m.signedInAs, { email: this.session?.user.email ?? this.#email }, ['email']);
    this.#$('sign-out').textContent = m.signOut;
    this.#renderCountdown();
  }

  #status(message: string): void {
    this.#$('status').textContent = message;
  }

  #clearMessages(): void {
    this.#$('error').textContent = '';
    this.#status('');
    this.#$('email').removeAttribute('aria-invalid');
    this.#$('code').removeAttribute('aria-invalid');
  }

  #busy(form: string, busy: boolean): void {
    const element = this.#$(form);
    element.setAttribute('aria-busy', String(busy));
    element.querySelectorAll<HTMLButtonElement>('button[type="submit"]').forEach((button) => {
      button.disabled = busy;
    });
  }

  #editEmail(): void {
    this.#stopCountdown();
    this.#clearMessages();
    this.#editingEmail = true;
    const input = this.#$<HTMLInputElement>('email');
    input.value = this.#email;
    this.#show('email', input);
  }

  async #sendCode(): Promise<void> {
    if (!this.#client) return;
    this.#clearMessages();
    if (this.#editingEmail) {
      const typed = this.#$<HTMLInputElement>('email').value.trim();
      if (!EMAIL_SHAPE.test(typed)) return this.#showError(new GuestpassApiError('invalid_request', 'not an email address'), 'send');
      this.#email = typed;
    }
    this.#busy('email-step', true);
    this.#status(this.#messages.sending);
    try {
      const sent = await this.#client.sendCode(this.#email, { locale: this.language });
      this.#status('');
      this.#codeSent(sent);
      const code = this.#$<HTMLInputElement>('code');
      code.value = '';
      this.#show('code', code);
    } catch (error) {
      this.#status('');
      this.#showError(error, 'send');
    } finally {
      this.#busy('email-step', false);
    }
  }

  async #resend(): Promise<void> {
    if (!this.#client) return;
    this.#clearMessages();
    const button = this.#$<HTMLButtonElement>('resend');
    button.disabled = true;
    try {
      this.#codeSent(await this.#client.sendCode(this.#email, { locale: this.language }));
      this.#render();
      this.#status(this.#messages.codeResent);
      this.#$('code').focus();
    } catch (error) {
      this.#showError(error, 'resend');
    }
  }

  #codeSent(sent: CodeSent): void {
    this.#expiresInSeconds = sent.expiresInSeconds;
    this.#startCountdown(sent.resendAfterSeconds);
    this.dispatchEvent(new CustomEvent('code-sent', { detail: { email: this.#email, ...sent }, bubbles: true, composed: true }));
  }

  async #verify(): Promise<void> {
    if (!this.#client) return;
    this.#clearMessages();
    const code = this.#$<HTMLInputElement>('code').value.replace(/\s+/g, '');
    if (!/^\d{6,12}$/.test(code)) return this.#showError(new GuestpassApiError('invalid_request', 'not a code'), 'verify');
    this.#busy('code-step', true);
    this.#status(this.#messages.verifying);
    try {
      await this.#client.verifyCode(this.#email, code);
      this.#status('');
      this.#$<HTMLInputElement>('code').value = '';
      this.#signedIn(true);
    } catch (error) {
      this.#status('');
      this.#showError(error, 'verify');
    } finally {
      this.#busy('code-step', false);
    }
  }

  #signedIn(moveFocus: boolean): void {
    this.#stopCountdown();
    this.#show('signed-in', moveFocus ? this.#$('heading') : undefined);
    this.dispatchEvent(new CustomEvent('signed-in', { detail: this.session, bubbles: true, composed: true }));
  }

  #signedOut(): void {
    this.#editingEmail = !this.#email;
    this.#show('email', this.#editingEmail ? this.#$('email') : this.#$('send'));
    this.#status(this.#messages.signedOut);
    this.dispatchEvent(new CustomEvent('signed-out', { bubbles: true, composed: true }));
  }

  /** One clear sentence per error code, in the element's language, announced by the alert region. */
  #showError(error: unknown, during: 'send' | 'resend' | 'verify'): void {
    const m = this.#messages;
    const failure = error instanceof GuestpassApiError ? error : new GuestpassApiError('unexpected_response', String(error));
    const known: Partial<Record<string, string>> = m.error;
    let message: string;
    switch (failure.code) {
      case 'invalid_request':
        message = during === 'verify' ? m.error.invalid_code_format : m.error.invalid_email;
        break;
      case 'session_expired':
      case 'session_revoked':
      case 'invalid_token':
        message = m.error.session_ended;
        break;
      case 'other_method_required':
        message = text(m.error.other_method_required, { method: (failure.method && m.method[failure.method]) ?? failure.method ?? '?' });
        break;
      default:
        message = known[failure.code] ?? m.error.generic;
    }
    if (failure.retryAfterSeconds !== undefined && (failure.code === 'rate_limited' || failure.code === 'too_many_attempts')) {
      message += ` ${text(m.tryAgainIn, { wait: formatWait(this.language, failure.retryAfterSeconds) })}`;
      if (failure.code === 'rate_limited' && this.#step === 'code') this.#startCountdown(failure.retryAfterSeconds);
    }
    this.#$('error').textContent = message;
    this.#$('error').dataset.code = failure.code;
    const field = this.#step === 'code' ? this.#$<HTMLInputElement>('code') : this.#editingEmail ? this.#$<HTMLInputElement>('email') : undefined;
    if (field && (failure.code === 'invalid_code' || failure.code === 'invalid_request' || (failure.code === 'code_expired' && during === 'verify'))) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
      field.select();
    }
    if (during === 'resend') this.#renderCountdown();
    this.dispatchEvent(new CustomEvent('sign-in-error', { detail: failure, bubbles: true, composed: true }));
  }

  #startCountdown(seconds: number): void {
    this.#stopCountdown();
    this.#resendAt = Date.now() + seconds * 1000;
    this.#renderCountdown();
    this.#timer = setInterval(() => this.#renderCountdown(), 1000);
  }

  #stopCountdown(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The resend button counts down visibly; it is a button, not a live region, so a screen reader is not told every second. */
  #renderCountdown(): void {
    const button = this.#$<HTMLButtonElement>('resend');
    const left = Math.ceil((this.#resendAt - Date.now()) / 1000);
    if (left > 0) {
      button.disabled = true;
      button.textContent = text(this.#messages.resendIn, { seconds: left });
      return;
    }
    this.#stopCountdown();
    button.disabled = false;
    button.textContent = this.#messages.resend;
  }
}

if (!customElements.get('guestpass-sign-in')) customElements.define('guestpass-sign-in', GuestpassSignIn);

declare global {
  interface HTMLElementTagNameMap {
    'guestpass-sign-in': GuestpassSignIn;
  }
}
