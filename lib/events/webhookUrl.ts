import { lookup as systemLookup } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Config } from '../config.js';
import { fail } from '../errors.js';

/*
 * Where a webhook may point. guestpass must never be made to call into its own
 * network (SSRF): an https URL (http only in development), no credentials in it, and
 * a host whose every address is a public unicast address: no loopback, private
 * (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata endpoint,
 * fe80::/10), carrier-grade NAT, multicast, reserved or unspecified one. The check runs
 * when an endpoint is registered and again at every connection (webhookLookup), so a
 * name that later resolves elsewhere (DNS rebinding) is refused at delivery too.
 * WEBHOOK_ALLOW_PRIVATE_ADDRESSES (development only) lifts the address rule.
 */
export type WebhookUrlPolicy = Pick<Config, 'development' | 'dnsServers'> & { webhooks: Pick<Config['webhooks'], 'allowPrivateAddresses'> };

/** Whether an address is one guestpass may call: public unicast, an IPv4-mapped IPv6 address judged as its IPv4 address. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

function invalidUrl(message: string): never {
  fail('invalid_webhook_url', { message });
}

/** Every address a host name resolves to (DNS_SERVERS' resolvers when set, else the system's). */
async function resolveAll(policy: WebhookUrlPolicy, host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  if (policy.dnsServers.length === 0) {
    const { lookup } = await import('node:dns/promises');
    return (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
  }
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers(policy.dnsServers);
  const settled = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = settled.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
  if (addresses.length === 0) throw new Error(`${host} has no A or AAAA record`);
  return addresses;
}

/** The URL a webhook is registered with, checked; answers 400 invalid_webhook_url naming what is wrong. */
export async function checkWebhookUrl(policy: WebhookUrlPolicy, text: string): Promise<URL> {
  if (!URL.canParse(text)) invalidUrl('The webhook url is not a URL.');
  const url = new URL(text);
  const httpAllowed = policy.development;
  if (url.protocol !== 'https:' && !(httpAllowed && url.protocol === 'http:')) {
    invalidUrl(httpAllowed ? 'The webhook url must start with https:// (or http:// in development).' : 'The webhook url must start with https://.');
  }
  if (url.username || url.password) invalidUrl('The webhook url must not carry a user name or password: the signature authenticates guestpass.');
  if (url.hash) invalidUrl('The webhook url must not have a #fragment.');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = await resolveAll(policy, host);
  } catch {
    invalidUrl(`The webhook host ${host} does not resolve to an address.`);
  }
  if (!policy.webhooks.allowPrivateAddresses) {
    const inner = addresses.find((address) => !isPublicAddress(address));
    if (inner) invalidUrl(`The webhook host ${host} resolves to ${inner}, a loopback, private, link-local or reserved address: guestpass calls only public addresses.`);
  }
  return url;
}

/** An address refused at connection time; the delivery records it as its error. */
export class AddressNotAllowed extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolved to ${address}, which is not a public address`);
    this.name = 'AddressNotAllowed';
  }
}

/**
 * The `lookup` of a delivery's connection: resolves as the system does and refuses a
 * non-public address, so what is connected to is what was checked.
 */
export function webhookLookup(policy: WebhookUrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    systemLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as { address: string; family: number }[];
      if (!policy.webhooks.allowPrivateAddresses) {
        const inner = list.find((entry) => !isPublicAddress(entry.address));
        if (inner) return callback(new AddressNotAllowed(hostname, inner.address) as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  };
}
