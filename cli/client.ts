/**
 * The management API over HTTP, as the CLI uses it: one base URL, one credential sent in
 * the `x-functions-key` header (never in a URL, never printed), the contract's error body
 * turned into an ApiError that names the code.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A problem with what the user typed or configured; printed as one line, exit status 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Page<T> {
  value: T[];
  nextLink?: string;
}

export class ManagementClient {
  readonly apiBase: string;

  constructor(
    baseUrl: string,
    private readonly key: string,
  ) {
    const trimmed = baseUrl.replace(/\/+$/, '');
    // Either the app's root (http://localhost:7071) or its /api base.
    this.apiBase = trimmed.endsWith('/api') ? trimmed : `${trimmed}/api`;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = /^https?:/.test(path) ? path : `${this.apiBase}/manage${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { 'x-functions-key': this.key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      throw new UsageError(unreachable(this.apiBase, error));
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const contractError = typeof (parsed as { error?: unknown } | undefined)?.error === 'string';
    if ((!response.ok && !contractError) || (response.ok && text && parsed === undefined)) {
      // Not guestpass answering: the Functions host's empty 404 for a route it lacks, or another site's page.
      throw new UsageError(
        `No guestpass management API at ${this.apiBase}: ${method} ${url} answered ${response.status}${response.ok ? ' with something that is not JSON' : ''}. ` +
          'Check --url or GUESTPASS_URL: the function app\'s root, e.g. https://func-guestpass.azurewebsites.net (or http://localhost:7071).',
      );
    }
    if (!response.ok) {
      const error = (parsed ?? {}) as { error?: string; message?: string; details?: { field?: string; message?: string }[] };
      const details = (error.details ?? []).map((d) => `${d.field ?? ''} ${d.message ?? ''}`.trim()).filter(Boolean);
      const retryAfter = Number(response.headers.get('retry-after') ?? '') || undefined;
      throw new ApiError(
        response.status,
        error.error ?? `http_${response.status}`,
        [error.message ?? `${method} ${path} answered ${response.status}`, ...details].join(' — '),
        retryAfter,
      );
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Every item of a paged list, following nextLink. */
  async all<T>(path: string, onPage?: (items: T[]) => void): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = path;
    while (next) {
      const page: Page<T> = await this.get<Page<T>>(next);
      items.push(...page.value);
      onPage?.(page.value);
      next = page.nextLink;
    }
    return items;
  }
}

/** Why a URL could not be reached, in one line that names it: never OpenSSL's internals. */
function unreachable(apiBase: string, error: unknown): string {
  const cause = (error as { cause?: NodeJS.ErrnoException & { code?: string } }).cause;
  const code = cause?.code ?? '';
  const host = (() => {
    try {
      return new URL(apiBase).host;
    } catch {
      return apiBase;
    }
  })();
  const check = 'Check --url or GUESTPASS_URL.';
  if (code === 'ECONNREFUSED') return `Nothing answers at ${apiBase} (connection refused). Is the function app running? ${check}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `The host ${host} of ${apiBase} does not resolve. ${check}`;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `${apiBase} did not answer in time. ${check}`;
  if (/^ERR_SSL_|^EPROTO$/.test(code) || /wrong version number|packet length too long/i.test(cause?.message ?? '')) {
    return `${apiBase} does not speak HTTPS (a TLS handshake failed: ${code || 'protocol error'}); a local host is usually http://. ${check}`;
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return `The TLS certificate of ${host} is not trusted (${code}): if it is yours, point NODE_EXTRA_CA_CERTS at its CA certificate file. ${check}`;
  }
  if (error instanceof TypeError && /Invalid URL|Failed to parse URL/i.test(String(error.message))) return `${apiBase} is not a URL. ${check}`;
  return `Cannot reach ${apiBase} (${cause?.message ?? (error as Error).message}). ${check}`;
}

export function tenantPath(tenant: string, rest = ''): string {
  return `/tenants/${encodeURIComponent(tenant)}${rest}`;
}
