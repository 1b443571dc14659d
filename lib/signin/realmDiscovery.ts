import { emailDomain } from '../guests/email.js';
import type { Config } from '../config.js';

/**
 * Microsoft realm discovery: asks a userrealm endpoint whether an address belongs to
 * a Microsoft Entra tenant or is a personal Microsoft account, the check Azure AD B2B
 * makes before it falls back to email one-time passcodes.
 *
 * The request (REALM_DISCOVERY_URL is the base, by default
 * https://login.microsoftonline.com/common/userrealm/):
 *
 *   GET <base><url-encoded address>?api-version=2.1&checkForMicrosoftAccount=true
 *
 * The answers it reads, JSON with these fields (others are ignored):
 *
 *   {"NameSpaceType":"Managed",   "DomainName":"contoso.com", ...}        → AzureAD (cloud Entra tenant)
 *   {"NameSpaceType":"Federated", "AuthURL":"https://sts…", ...}          → AzureAD (Entra tenant federated with an IdP)
 *   {"NameSpaceType":"Unknown",   "MicrosoftAccount":0, ...}              → MSA
 *   {"NameSpaceType":"Unknown",   "MicrosoftAccount":1, ...}              → none
 *
 * With checkForMicrosoftAccount=true the service reports `MicrosoftAccount` 0 when a
 * personal Microsoft account exists for the address, 1 when none does and 2 when it
 * throttled the check (0 means "has one", as Microsoft's own MSIdentityTools
 * Get-MsIdHasMicrosoftAccount reads it). An Entra tenant wins over a personal account,
 * as in B2B. Anything else (Unknown, throttled, a non-2xx status, a body that is not
 * JSON, a timeout, a network error) counts as "no such account" and is logged, so the
 * guest falls through to the next method instead of being locked out by an outage.
 */
export type MicrosoftAccountKind = 'AzureAD' | 'MSA';

export type RealmDiscoverySettings = Config['realmDiscovery'];

/** Where log lines go; the Functions host and the local host both collect console output. */
export type RealmLog = (line: string) => void;

const defaultLog: RealmLog = (line) => console.warn(line);

export function userRealmUrl(baseUrl: string, email: string): string {
  const url = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.pathname += encodeURIComponent(email);
  url.searchParams.set('api-version', '2.1');
  url.searchParams.set('checkForMicrosoftAccount', 'true');
  return url.href;
}

interface UserRealmAnswer {
  NameSpaceType?: unknown;
  MicrosoftAccount?: unknown;
}

/** What a userrealm answer says about the address; undefined for "no Microsoft account". */
export function readUserRealm(answer: unknown): MicrosoftAccountKind | undefined {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const { NameSpaceType: namespaceType, MicrosoftAccount: microsoftAccount } = answer as UserRealmAnswer;
  if (namespaceType === 'Managed' || namespaceType === 'Federated') return 'AzureAD';
  if (microsoftAccount === 0 || microsoftAccount === '0') return 'MSA';
  return undefined;
}

function describeAnswer(answer: unknown): string {
  const { NameSpaceType: namespaceType, MicrosoftAccount: microsoftAccount } = (answer ?? {}) as UserRealmAnswer;
  if (microsoftAccount === 2 || microsoftAccount === '2') return 'the Microsoft account check was throttled';
  return `NameSpaceType ${typeof namespaceType === 'string' ? namespaceType : 'missing'}`;
}

/**
 * Whether the address has an Entra (AzureAD) or personal Microsoft (MSA) account;
 * undefined when discovery is off, says no, or fails. Logs name only the domain.
 */
export async function discoverMicrosoftAccount(
  settings: RealmDiscoverySettings,
  email: string,
  log: RealmLog = defaultLog,
): Promise<MicrosoftAccountKind | undefined> {
  if (!settings.enabled) return undefined;
  const where = `an address at ${emailDomain(email)}`;
  const noAccount = (reason: string): undefined => {
    log(`guestpass: realm discovery for ${where}: ${reason}; treated as no Microsoft account.`);
    return undefined;
  };
  let answer: unknown;
  try {
    const response = await fetch(userRealmUrl(settings.url, email), {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(settings.timeoutSeconds * 1000),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return noAccount(`the endpoint answered ${response.status}`);
    }
    answer = await response.json();
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === 'TimeoutError') return noAccount(`no answer within ${settings.timeoutSeconds} s`);
    if (name === 'SyntaxError') return noAccount('the answer is not JSON');
    return noAccount(`the request failed (${(error as Error)?.message ?? String(error)})`);
  }
  return readUserRealm(answer) ?? noAccount(describeAnswer(answer));
}
