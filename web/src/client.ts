/**
 * The guestpass client for single-page apps: the four guest calls, typed from the
 * very zod schemas the functions validate with (type-only imports: nothing of zod or
 * lib/ ends up in the browser bundle), errors as GuestpassApiError, and the session
 * kept in memory or, when asked, in sessionStorage. Never in localStorage: a token
 * there would outlive the tab and be readable by every later script of the origin.
 * What localStorage does keep is the `device` value verify-code answers, per tenant and
 * address: it signs no one in, it only shows later calls are the guest's own, so
 * strangers flooding the tenant never lock this browser out (DESIGN §4).
 */
import { solveChallenge as solveProofOfWork } from 'altcha-lib/v1';
import type { z } from 'zod';
import type { ErrorCode } from '../../lib/errors.js';
import type {
  codeSentResponse, errorResponse, sendCodeBody, sessionResponse, sessionStatusResponse, signInSource, signedInResponse, stepUpChallenge, verifyCodeBody,
} from '../../lib/schemas.js';

export type SendCodeInput = z.input<typeof sendCodeBody>;
export type VerifyCodeInput = z.input<typeof verifyCodeBody>;
export type CodeSent = z.infer<typeof codeSentResponse>;
export type Session = z.infer<typeof sessionResponse>;
type SignedIn = z.infer<typeof signedInResponse>;
export type SessionStatus = z.infer<typeof sessionStatusResponse>;
export type GuestUser = Session['user'];
export type SignInSource = z.infer<typeof signInSource>;
export type ErrorBody = z.infer<typeof errorResponse>;
export type StepUpChallenge = z.infer<typeof stepUpChallenge>;

/**
 * Solves an ALTCHA proof-of-work challenge with altcha-lib in this page (a few hundred
 * milliseconds of hashing, no user step) and answers the payload the server verifies.
 * Other providers (Turnstile, hCaptcha) need their widget: pass `solveChallenge`.
 */
export async function solveAltcha(challenge: StepUpChallenge): Promise<string | undefined> {
  if (challenge.provider !== 'altcha') return undefined;
  const solution = await solveProofOfWork(challenge.challenge, challenge.salt, challenge.algorithm, challenge.maxnumber).promise;
  if (!solution) return undefined;
  const payload = { algorithm: challenge.algorithm, challenge: challenge.challenge, number: solution.number, salt: challenge.salt, signature: challenge.signature };
  return btoa(JSON.stringify(payload));
}

/** The contract's error codes, plus the two a browser meets before an answer: no answer at all, or not guestpass's. */
export type GuestpassErrorCode = ErrorCode | 'network_error' | 'unexpected_response';

/** A failed call: the contract's error code and message, and Retry-After in seconds when the server sent one. */
export class GuestpassApiError extends Error {
  readonly code: GuestpassErrorCode;
  readonly status: number;
  readonly retryAfterSeconds?: number;
  readonly details?: unknown[];
  /** With other_method_required: how this guest signs in instead. */
  readonly method?: SignInSource;
  /** With challenge_required: the step-up the client could not solve by itself. */
  readonly challenge?: StepUpChallenge;

  constructor(
    code: GuestpassErrorCode,
    message: string,
    options: { status?: number; retryAfterSeconds?: number; details?: unknown[]; method?: SignInSource; challenge?: StepUpChallenge; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'GuestpassApiError';
    this.code = code;
    this.status = options.status ?? 0;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
    this.method = options.method;
    this.challenge = options.challenge;
  }
}

export interface GuestpassClientOptions {
  /** The tenant's id or one of its verified domains. */
  tenant: string;
  /** Base URL of the guestpass API, e.g. `https://contoso-guestpass.azurewebsites.net/api`. Default: `/api` on this page's origin. */
  api?: string;
  /** `memory` (default) forgets the session on reload; `session` keeps it in sessionStorage for this tab. */
  persist?: 'memory' | 'session';
  /** For tests and non-browser hosts. */
  fetch?: typeof fetch;
  /**
   * Answers a step-up challenge (428 challenge_required) with its solution, or undefined
   * to give up. Default: solveAltcha, which solves the self-hosted proof of work.
   */
  solveChallenge?: (challenge: StepUpChallenge) => Promise<string | undefined>;
  /** The `invitation` parameter of the guest's invitation link: sent until the first sign-in. */
  invitation?: string;
}

/** `signInWithRedirect`: an application registered for the tenant (a public client) and where to come back. */
export interface RedirectSignInOptions {
  clientId: string;
  /** Exactly one of the application's registered redirect URIs; the page there calls handleRedirectCallback. */
  redirectUri: string;
  /** Default `openid email profile`. */
  scope?: string;
  loginHint?: string;
  /** e.g. `sv` or `de en`: the hosted sign-in page's language. */
  uiLocales?: string;
}

/** What signInWithRedirect keeps in sessionStorage until its callback: single use. */
interface PendingRedirect {
  verifier: string;
  nonce: string;
  clientId: string;
  redirectUri: string;
}

function randomUrlSafe(bytes = 32): string {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return base64Url(data);
}

function base64Url(data: Uint8Array): string {
  let binary = '';
  for (const byte of data) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The payload of a JWT, unverified: only for a token just received from the token endpoint over TLS (OIDC Core §3.1.3.7). */
function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

/** Answers that mean the stored token is of no further use. */
const SESSION_GONE: ReadonlySet<GuestpassErrorCode> = new Set(['session_expired', 'session_revoked', 'invalid_token']);

function normalise(email: string): string {
  return email.trim().toLowerCase();
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function defaultApiBase(): string {
  return typeof location === 'undefined' ? '/api' : new URL('/api', location.href).href;
}

/** The browser's localStorage (the device) or sessionStorage (a persisted session); undefined where there is none or the browser's settings block it. */
function webStorage(kind: 'localStorage' | 'sessionStorage'): Storage | undefined {
  try {
    return ((globalThis as { [name: string]: unknown })[kind] as Storage | undefined) ?? undefined;
  } catch {
    return undefined; // blocked: no device is kept, the session stays in memory
  }
}

/**
 * Dispatches `sessionchange` (detail: the Session, or null once signed out) whenever
 * the session it holds changes.
 */
export class GuestpassClient extends EventTarget {
  readonly tenant: string;
  readonly api: string;
  readonly persist: 'memory' | 'session';
  readonly #fetch: typeof fetch;
  readonly #solveChallenge: (challenge: StepUpChallenge) => Promise<string | undefined>;
  #session: Session | undefined;
  /** The sign-in attempt send-code started: its codes are checked only against it. */
  #attempt: { email: string; handle: string } | undefined;
  #invitation: string | undefined;

  constructor(options: GuestpassClientOptions) {
    super();
    if (!options.tenant) throw new TypeError('GuestpassClient needs a tenant (its id or a verified domain).');
    this.tenant = options.tenant;
    this.api = (options.api ?? defaultApiBase()).replace(/\/+$/, '');
    this.persist = options.persist ?? 'memory';
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#solveChallenge = options.solveChallenge ?? solveAltcha;
    this.#invitation = options.invitation || undefined;
    this.#session = this.#readStored();
  }

  /** The handle of the current sign-in attempt, if send-code started one. */
  get attempt(): string | undefined {
    return this.#attempt?.handle;
  }

  /** The session this client holds, if any. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** `Bearer <token>` for your own API calls, or undefined when signed out. */
  get authorization(): string | undefined {
    return this.#session ? `${this.#session.tokenType} ${this.#session.token}` : undefined;
  }

  /**
   * Mails a code to the guest. Answers the same for an address that is not invited.
   * A second call for the same address resends within the same attempt, so the code
   * mailed first stays valid too (mail can arrive late).
   */
  async sendCode(email: string, options: { locale?: string } = {}): Promise<CodeSent> {
    const attempt = this.#attemptFor(email);
    const body: SendCodeInput = { email, ...(options.locale ? { locale: options.locale } : {}), ...(attempt ? { attempt } : {}), ...this.#ownership(email) };
    const sent = await this.#withStepUp<CodeSent>('send-code', body);
    this.#attempt = { email: normalise(email), handle: sent.attempt };
    return sent;
  }

  /** Exchanges the code for a session and keeps it; the code is checked against this client's attempt. */
  async verifyCode(email: string, code: string): Promise<Session> {
    const attempt = this.#attemptFor(email);
    const body: VerifyCodeInput = { email, code: code.replace(/\s+/g, ''), ...(attempt ? { attempt } : {}), ...this.#ownership(email) };
    const { device, ...session } = await this.#withStepUp<SignedIn>('verify-code', body);
    this.#attempt = undefined;
    // Signed in: the invitation has done its work, the device now shows who this browser is.
    this.#invitation = undefined;
    try {
      webStorage('localStorage')?.setItem(this.#deviceKey(email), device);
    } catch {
      // storage full or blocked: the next sign-in is simply not recognised
    }
    this.#keep(session);
    return session;
  }

  /** The device this browser keeps for the tenant and address, if any. */
  device(email: string): string | undefined {
    try {
      return webStorage('localStorage')?.getItem(this.#deviceKey(email)) ?? undefined;
    } catch {
      return undefined;
    }
  }

  #deviceKey(email: string): string {
    return `guestpass.device:${this.tenant.toLowerCase()}:${normalise(email)}`;
  }

  /** What shows the calls are the guest's own: the kept device, and the invitation until the first sign-in. */
  #ownership(email: string): { device?: string; invitation?: string } {
    const device = this.device(email);
    return { ...(device ? { device } : {}), ...(this.#invitation ? { invitation: this.#invitation } : {}) };
  }

  #attemptFor(email: string): string | undefined {
    return this.#attempt?.email === normalise(email) ? this.#attempt.handle : undefined;
  }

  /** A call that, answered 428 challenge_required, solves the challenge and is sent once more with the solution. */
  async #withStepUp<T>(endpoint: 'send-code' | 'verify-code', body: SendCodeInput | VerifyCodeInput): Promise<T> {
    try {
      return await this.#call<T>('POST', endpoint, { body });
    } catch (error) {
      if (!(error instanceof GuestpassApiError && error.code === 'challenge_required' && error.challenge)) throw error;
      const stepUp = await this.#solveChallenge(error.challenge);
      if (!stepUp) throw error;
      return this.#call<T>('POST', endpoint, { body: { ...body, stepUp } });
    }
  }

  /**
   * Asks the server whether the held session is still active (sign-out elsewhere,
   * guest deletion and policy changes count at once). Undefined when none is held; a
   * session that has ended is dropped and its error thrown.
   */
  async checkSession(): Promise<SessionStatus | undefined> {
    const held = this.#session;
    if (!held) return undefined;
    try {
      const status = await this.#call<SessionStatus>('GET', 'session-check', { token: held.token });
      this.#keep({ ...held, expiresAt: status.expiresAt, user: status.user });
      return status;
    } catch (error) {
      if (error instanceof GuestpassApiError && SESSION_GONE.has(error.code)) this.#keep(undefined);
      throw error;
    }
  }

  /** Ends the session on the server and forgets it here. A session that had already ended is not an error. */
  async signOut(): Promise<void> {
    const held = this.#session;
    if (!held) return;
    this.#keep(undefined);
    try {
      await this.#call<void>('POST', 'sign-out', { token: held.token });
    } catch (error) {
      if (!(error instanceof GuestpassApiError && SESSION_GONE.has(error.code))) throw error;
    }
  }

  /**
   * Signs in through the tenant's hosted sign-in page with the OpenID Connect
   * authorization code flow and PKCE (S256, WebCrypto): keeps the verifier, state and
   * nonce in this tab's sessionStorage and navigates away. The redirect URI's page calls
   * handleRedirectCallback.
   */
  async signInWithRedirect(options: RedirectSignInOptions): Promise<void> {
    const verifier = randomUrlSafe();
    const challenge = base64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
    const state = randomUrlSafe(16);
    const nonce = randomUrlSafe(16);
    const pending: PendingRedirect = { verifier, nonce, clientId: options.clientId, redirectUri: options.redirectUri };
    const store = webStorage('sessionStorage');
    if (!store) throw new GuestpassApiError('unexpected_response', 'signInWithRedirect needs sessionStorage to keep the PKCE verifier across the redirect.');
    store.setItem(this.#redirectKey(state), JSON.stringify(pending));
    const url = new URL(`${this.api}/${encodeURIComponent(this.tenant)}/oauth2/authorize`);
    const params: Record<string, string | undefined> = {
      client_id: options.clientId,
      redirect_uri: options.redirectUri,
      response_type: 'code',
      scope: options.scope ?? 'openid email profile',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      login_hint: options.loginHint,
      ui_locales: options.uiLocales,
    };
    for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
    location.assign(url.href);
  }

  /**
   * On the redirect URI's page: checks `state` against this tab's pending sign-in,
   * redeems the code with its PKCE verifier, checks the ID token's nonce, and keeps
   * the session (the access token is a session token: checkSession and signOut work on it).
   */
  async handleRedirectCallback(url: string = location.href): Promise<Session> {
    const answer = new URL(url).searchParams;
    const state = answer.get('state') ?? '';
    const store = webStorage('sessionStorage');
    const raw = state ? store?.getItem(this.#redirectKey(state)) : null;
    if (state) store?.removeItem(this.#redirectKey(state));
    if (!raw) throw new GuestpassApiError('invalid_request', 'This page was not opened by a sign-in this tab started (unknown or reused state).');
    const pending = JSON.parse(raw) as PendingRedirect;
    const error = answer.get('error');
    if (error) throw new GuestpassApiError(error as GuestpassErrorCode, answer.get('error_description') ?? error);
    const code = answer.get('code');
    if (!code) throw new GuestpassApiError('invalid_request', 'The redirect carries no authorization code.');
    let response: Response;
    try {
      response = await this.#fetch(`${this.api}/${encodeURIComponent(this.tenant)}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier, client_id: pending.clientId }).toString(),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (cause) {
      throw new GuestpassApiError('network_error', 'The guestpass API could not be reached.', { cause });
    }
    const tokens = (await response.json().catch(() => ({}))) as { access_token?: string; id_token?: string; expires_in?: number; error?: GuestpassErrorCode; message?: string };
    if (!response.ok || !tokens.access_token || !tokens.id_token) {
      throw new GuestpassApiError(tokens.error ?? 'unexpected_response', tokens.message ?? `The token endpoint answered ${response.status}.`, { status: response.status });
    }
    const claims = jwtPayload(tokens.id_token);
    if (claims.nonce !== pending.nonce) throw new GuestpassApiError('invalid_token', 'The ID token does not carry this sign-in\'s nonce.');
    const session: Session = {
      token: tokens.access_token,
      tokenType: 'Bearer',
      expiresAt: new Date(Date.now() + (tokens.expires_in ?? 0) * 1000).toISOString(),
      user: { id: String(claims.sub), email: String(claims.email ?? ''), displayName: String(claims.name ?? ''), source: String(claims.idp) as SignInSource },
    };
    this.#keep(session);
    return session;
  }

  #redirectKey(state: string): string {
    return `guestpass.redirect:${this.api}:${this.tenant}:${state}`;
  }

  get #storageKey(): string {
    return `guestpass.session:${this.api}:${this.tenant}`;
  }

  #readStored(): Session | undefined {
    if (this.persist !== 'session') return undefined;
    const raw = webStorage('sessionStorage')?.getItem(this.#storageKey);
    if (!raw) return undefined;
    try {
      const stored = JSON.parse(raw) as Session;
      if (typeof stored.token === 'string' && Date.parse(stored.expiresAt) > Date.now()) return stored;
    } catch {
      // unreadable: forget it below
    }
    webStorage('sessionStorage')?.removeItem(this.#storageKey);
    return undefined;
  }

  #keep(session: Session | undefined): void {
    const changed = session?.token !== this.#session?.token || session?.expiresAt !== this.#session?.expiresAt;
    this.#session = session;
    if (this.persist === 'session') {
      const store = webStorage('sessionStorage');
      if (session) store?.setItem(this.#storageKey, JSON.stringify(session));
      else store?.removeItem(this.#storageKey);
    }
    if (changed) this.dispatchEvent(new CustomEvent('sessionchange', { detail: session ?? null }));
  }

  async #call<T>(method: 'GET' | 'POST', endpoint: string, options: { body?: unknown; token?: string }): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    let response: Response;
    try {
      response = await this.#fetch(`${this.api}/${encodeURIComponent(this.tenant)}/${endpoint}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (cause) {
      throw new GuestpassApiError('network_error', 'The guestpass API could not be reached.', { cause });
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok && parsed !== undefined) return parsed as T;
    const body = parsed as Partial<ErrorBody> | undefined;
    if (!body || typeof body.error !== 'string') {
      throw new GuestpassApiError('unexpected_response', `The guestpass API answered ${response.status} without an error body.`, { status: response.status });
    }
    throw new GuestpassApiError(body.error, body.message ?? body.error, {
      status: response.status,
      retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')),
      details: body.details,
      method: body.method,
      challenge: body.challenge,
    });
  }
}
