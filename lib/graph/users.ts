import { fail } from '../errors.js';
import { getGuest, listGuests } from '../guests/guestLifecycle.js';
import type { Guest, SignInSource } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { MAX_GUESTS_PER_PAGE, type ListGuestsQuery } from '../schemas.js';
import { GRAPH_USER_PROPERTIES, type GraphUserProperty, type GraphUsersQuery } from './schemas.js';

/*
 * A tenant's guests as Microsoft Graph's users, so code written for Entra (the Graph
 * JavaScript SDK's api('/users').filter("userType eq 'Guest'")...) reads them unchanged.
 * Every user guestpass has is a guest an invitation created: userType Guest,
 * creationType Invitation. The listing underneath is the guest index's (address order,
 * at most 100 a page); $filter is translated to its filters, never evaluated over a scan.
 */

export interface GraphIdentity {
  signInType: string;
  issuer: string;
  issuerAssignedId: string;
}

export interface GraphUser {
  id: string;
  mail: string;
  displayName: string;
  userType: 'Guest';
  externalUserState: 'PendingAcceptance' | 'Accepted';
  externalUserStateChangeDateTime: string;
  creationType: 'Invitation';
  createdDateTime: string;
  accountEnabled: boolean;
  identities: GraphIdentity[];
}

/** The issuer Entra shows in a B2B guest's identities for each way of signing in. */
const ISSUERS: Record<SignInSource, string> = { OTP: 'mail', AzureAD: 'ExternalAzureAD', MSA: 'MicrosoftAccount', Google: 'google.com' };

export function toGraphUser(guest: Guest): GraphUser {
  return {
    id: guest.id,
    mail: guest.email,
    displayName: guest.displayName,
    userType: 'Guest',
    externalUserState: guest.state === 'PendingAcceptance' ? 'PendingAcceptance' : 'Accepted',
    externalUserStateChangeDateTime: guest.redeemedAt ?? guest.invitedAt,
    creationType: 'Invitation',
    createdDateTime: guest.invitedAt,
    // A guest the lifecycle disabled cannot sign in either.
    accountEnabled: guest.accountEnabled && guest.state !== 'Disabled',
    identities: guest.source ? [{ signInType: 'federated', issuer: ISSUERS[guest.source], issuerAssignedId: guest.email }] : [],
  };
}

/** The properties $select names (all of them without $select); an unknown one is Graph's 400. */
export function selectedProperties(select: string | undefined): GraphUserProperty[] {
  if (!select) return [...GRAPH_USER_PROPERTIES];
  const names = select.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!(GRAPH_USER_PROPERTIES as readonly string[]).includes(name)) {
      fail('unsupported_query', { message: `Could not find a property named '${name}' on type 'microsoft.graph.user'. guestpass has ${GRAPH_USER_PROPERTIES.join(', ')}.` });
    }
  }
  // id always comes along, as Graph sends it.
  return [...new Set<GraphUserProperty>(['id', ...(names as GraphUserProperty[])])];
}

function pick(user: GraphUser, properties: GraphUserProperty[]): Partial<GraphUser> {
  return Object.fromEntries(properties.map((name) => [name, user[name]])) as Partial<GraphUser>;
}

/** What a $filter asks of the listing: index filters, and checks on each listed user. */
interface UserFilter {
  listing: Pick<ListGuestsQuery, 'state' | 'search'>;
  mail?: string;
  accountEnabled?: boolean;
  /** userType or creationType other than what every guestpass user has: nothing matches. */
  nothing: boolean;
}

const STRING = `'((?:[^']|'')*)'`;
const COMPARISON = new RegExp(`^(userType|creationType|externalUserState|mail|accountEnabled)\\s+eq\\s+(?:${STRING}|(true|false))`, 'i');
const STARTS_WITH = new RegExp(`^startswith\\(\\s*mail\\s*,\\s*${STRING}\\s*\\)`, 'i');

const SUPPORTED_FILTERS =
  "userType eq 'Guest', creationType eq 'Invitation', externalUserState eq 'PendingAcceptance' or 'Accepted', mail eq '<address>', startswith(mail,'<prefix>') and accountEnabled eq true or false, joined with and";

function unsupported(filter: string): never {
  fail('unsupported_query', { message: `Unsupported $filter: ${filter.slice(0, 200)}. guestpass's Graph endpoint supports ${SUPPORTED_FILTERS}.` });
}

/** Parses the $filter expressions Entra's guest scripts use, joined with `and`. */
export function parseUserFilter(filter: string | undefined): UserFilter {
  const result: UserFilter = { listing: {}, nothing: false };
  let rest = (filter ?? '').trim();
  while (rest) {
    let match = COMPARISON.exec(rest);
    if (match) {
      const property = match[1]!.toLowerCase();
      const text = match[2]?.replace(/''/g, "'");
      const flag = match[3]?.toLowerCase();
      if (property === 'accountenabled') {
        if (flag === undefined) unsupported(filter!);
        result.accountEnabled = flag === 'true';
      } else {
        if (text === undefined) unsupported(filter!);
        if (property === 'usertype') result.nothing ||= text.toLowerCase() !== 'guest';
        else if (property === 'creationtype') result.nothing ||= text.toLowerCase() !== 'invitation';
        else if (property === 'externaluserstate') {
          if (text !== 'PendingAcceptance' && text !== 'Accepted') unsupported(filter!);
          result.listing.state = text;
        } else {
          result.mail = text.trim().toLowerCase();
          result.listing.search = result.mail;
        }
      }
    } else if ((match = STARTS_WITH.exec(rest))) {
      result.listing.search = match[1]!.replace(/''/g, "'").trim().toLowerCase();
      if (!result.listing.search) unsupported(filter!);
    } else {
      unsupported(filter!);
    }
    rest = rest.slice(match[0].length).trim();
    if (!rest) break;
    const and = /^and\s+/i.exec(rest);
    if (!and) unsupported(filter!);
    rest = rest.slice(and[0].length);
  }
  return result;
}

export interface GraphUserPage {
  value: Partial<GraphUser>[];
  skipToken?: string;
}

/** GET /users: a page of the tenant's guests as Graph users. */
export async function listGraphUsers(rt: Runtime, tenantId: string, query: GraphUsersQuery): Promise<GraphUserPage> {
  const properties = selectedProperties(query.$select);
  const filter = parseUserFilter(query.$filter);
  if (filter.nothing) return { value: [] };
  const page = await listGuests(rt, tenantId, {
    ...filter.listing,
    $top: Math.min(query.$top ?? MAX_GUESTS_PER_PAGE, MAX_GUESTS_PER_PAGE),
    ...(query.$skiptoken ? { $skiptoken: query.$skiptoken } : {}),
  });
  const users = page.value
    .map(toGraphUser)
    .filter((user) => (filter.mail === undefined || user.mail === filter.mail) && (filter.accountEnabled === undefined || user.accountEnabled === filter.accountEnabled));
  return { value: users.map((user) => pick(user, properties)), ...(page.skipToken ? { skipToken: page.skipToken } : {}) };
}

/** A user id as guestpass keys it (a lowercase GUID); anything else is no user, Graph's 404. */
export function graphUserId(id: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) fail('guest_not_found');
  return id.toLowerCase();
}

/** GET /users/{id}: one guest as a Graph user. */
export async function getGraphUser(rt: Runtime, tenantId: string, id: string, select: string | undefined): Promise<Partial<GraphUser>> {
  const properties = selectedProperties(select);
  return pick(toGraphUser(await getGuest(rt, tenantId, graphUserId(id))), properties);
}
