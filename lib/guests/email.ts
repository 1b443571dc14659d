import { domainToASCII } from 'node:url';
import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * The one way guestpass reads an email address: trimmed, the domain in lowercase
 * ASCII (IDN domains become punycode) and the local part in lowercase too, because
 * mail providers and Azure AD B2B treat addresses case-insensitively and a guest who
 * types their address differently must still be the same guest. Returns undefined
 * for anything that is not a plain dot-atom address (quoted local parts and
 * non-ASCII local parts are refused). At most 254 characters, as SMTP allows.
 */
export function normaliseEmail(input: string): string | undefined {
  const trimmed = input.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return undefined;
  const local = trimmed.slice(0, at);
  const rawDomain = trimmed.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return undefined;
  if (/[\s\u0000-\u001f\u007f/\\#?@]/.test(rawDomain)) return undefined;
  const domain = domainToASCII(rawDomain.toLowerCase());
  if (!domain || domain.length > 253) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label))) return undefined;
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  const address = `${local.toLowerCase()}@${domain}`;
  return address.length <= 254 ? address : undefined;
}

/** A zod field that accepts an address and yields its normalised form. */
export const emailAddress = lazySchema(() => z
  .string()
  .max(320)
  .transform((value, ctx) => {
    const normalised = normaliseEmail(value);
    if (!normalised) {
      ctx.addIssue({ code: 'custom', message: 'must be an email address such as guest@example.com' });
      return z.NEVER;
    }
    return normalised;
  }));

export function emailDomain(normalisedEmail: string): string {
  return normalisedEmail.slice(normalisedEmail.lastIndexOf('@') + 1);
}
