import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { GuestEntity } from '../guests/guests.js';
import { isString, parseJsonList } from '../storage/tables.js';

/*
 * Familiarity (DESIGN §4): a caller is the guest's own when it shows a client address
 * the guest signed in from, its `device` (the opaque value verify-code answered to a
 * sign-in from that browser), or, before the first sign-in, its `invitation` (the
 * value in the guest's inviteRedeemUrl). No budget that anonymous callers can use up
 * refuses such a caller. The server keeps only digests: device tags on the guest row
 * (at most KNOWN_DEVICES, newest first), and nothing for an invitation, whose value is
 * an HMAC under CODE_PEPPER of the guest and its current invitation (so a reset or a
 * block, which move codesValidFrom, void every link sent before). Reset and delete drop
 * the guest row's lists with it; a block empties them.
 */

/** How many devices a guest's row remembers; a sign-in from an eleventh forgets the oldest. */
export const KNOWN_DEVICES = 10;
/** How many addresses a guest's row remembers as ones it signed in from. */
export const KNOWN_ADDRESSES = 5;

/** How a caller showed it is the guest's own; undefined for everyone else. */
export type Familiarity = 'device' | 'invitation' | 'address' | undefined;

function digestTag(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

/** A new device value: 192 random bits, the client keeps it and sends it back as it is. */
function newDevice(): string {
  return randomBytes(24).toString('base64url');
}

/** The invitation value of a guest's current invitation (void once it redeems, is reset or blocked). */
export function invitationValue(pepper: string, guest: Pick<GuestEntity, 'tenantId' | 'guestId' | 'invitedAt' | 'codesValidFrom'>): string {
  return createHmac('sha256', pepper)
    .update(`guestpass invitation\n${guest.tenantId}\n${guest.guestId}\n${guest.codesValidFrom ?? guest.invitedAt}`)
    .digest('base64url')
    .slice(0, 32);
}

/** A list of tags kept on the guest row (known addresses, known devices). */
function parseTagList(json: string | undefined): string[] {
  return parseJsonList(json, isString);
}

function equalStrings(a: string, b: string): boolean {
  return a.length === b.length && createHash('sha256').update(a).digest().equals(createHash('sha256').update(b).digest());
}

export interface Shown {
  device?: string;
  invitation?: string;
}

/**
 * Who the caller is to this guest, and the tag its per-caller row is kept under: a
 * device or invitation caller its own (an attacker sharing its network cannot use
 * it up), anyone else the client address's.
 */
export function familiarityOf(pepper: string, guest: GuestEntity | undefined, addressTag: string, shown: Shown): { familiarity: Familiarity; pairTag: string } {
  if (guest) {
    if (shown.device) {
      const tag = digestTag(shown.device);
      if (parseTagList(guest.knownDevices).includes(tag)) return { familiarity: 'device', pairTag: `d${tag}` };
    }
    if (shown.invitation && !guest.redeemedAt && equalStrings(shown.invitation, invitationValue(pepper, guest))) {
      return { familiarity: 'invitation', pairTag: `i${digestTag(shown.invitation)}` };
    }
    if (parseTagList(guest.knownAddresses).includes(addressTag)) return { familiarity: 'address', pairTag: addressTag };
  }
  return { familiarity: undefined, pairTag: addressTag };
}

/** The tags a caller's per-caller row may be under, read with the guest row before familiarity is known. */
export function candidatePairTags(addressTag: string, shown: Shown): string[] {
  return [
    ...(shown.device ? [`d${digestTag(shown.device)}`] : []),
    ...(shown.invitation ? [`i${digestTag(shown.invitation)}`] : []),
    addressTag,
  ];
}

/**
 * What a sign-in remembers on the guest row: this address first, and the device the
 * caller showed (when it is this guest's) or a new one, which the answer hands out.
 */
export function rememberSignIn(guest: GuestEntity, addressTag: string, shown: Shown): { knownAddresses: string; knownDevices: string; device: string } {
  const known = parseTagList(guest.knownDevices);
  const shownTag = shown.device ? digestTag(shown.device) : undefined;
  const device = shownTag && known.includes(shownTag) ? shown.device! : newDevice();
  const tag = digestTag(device);
  return {
    knownAddresses: JSON.stringify([addressTag, ...parseTagList(guest.knownAddresses).filter((t) => t !== addressTag)].slice(0, KNOWN_ADDRESSES)),
    knownDevices: JSON.stringify([tag, ...known.filter((t) => t !== tag)].slice(0, KNOWN_DEVICES)),
    device,
  };
}
