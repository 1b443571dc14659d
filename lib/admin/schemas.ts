import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { tenantParams, tenantResponse } from '../schemas.js';

/* Request and response shapes of the administration routes (keys, audit, domains, lifecycle). */

const isoDate = lazySchema(() => z.iso.datetime({ offset: true }));

export const pageQuery = lazySchema(() => z.object({
  $top: z.coerce.number().int().min(1).max(100).default(100),
  $skiptoken: z.string().min(1).max(4096).optional(),
}));

export const createKeyBody = lazySchema(() => z.strictObject({ name: z.string().trim().min(1).max(128) }));
export const keyParams = lazySchema(() => tenantParams.extend({ id: z.string().min(1).max(64) }));

export const auditQuery = lazySchema(() => z.object({
  since: isoDate.optional(),
  $top: z.coerce.number().int().min(1).max(200).default(50),
  $skiptoken: z.string().min(1).max(4096).optional(),
}));

const domainName = lazySchema(() => z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as contoso.com'));
export const addDomainBody = lazySchema(() => z.strictObject({ name: domainName }));
export const domainParams = lazySchema(() => tenantParams.extend({ name: domainName }));

export const meResponse = lazySchema(() => z.union([
  z.object({ kind: z.literal('operator') }),
  z.object({ kind: z.literal('tenantAdmin'), tenantId: z.string(), keyId: z.string(), name: z.string() }),
]));

export const createdKeyResponse = lazySchema(() => z.object({
  id: z.string(),
  name: z.string(),
  key: z.string().meta({ description: 'gpa_<id>_<secret>: shown only in this answer, stored only as a hash.' }),
  createdAt: isoDate,
}));

export const keyListResponse = lazySchema(() => z.object({
  value: z.array(
    z.object({ id: z.string(), name: z.string(), createdAt: isoDate, createdBy: z.string(), lastUsedAt: isoDate.optional(), revokedAt: isoDate.optional() }),
  ),
}));

export const auditPageResponse = lazySchema(() => z.object({
  value: z.array(
    z.object({
      id: z.string(),
      at: isoDate,
      actor: z.object({ kind: z.enum(['operator', 'tenantAdmin']), name: z.string(), keyId: z.string().optional() }),
      action: z.string(),
      target: z.object({ type: z.enum(['tenant', 'guest', 'policy', 'key', 'domain', 'application', 'lifecycle', 'webhook']), id: z.string() }),
      before: z.unknown().optional(),
      after: z.unknown().optional(),
    }),
  ),
  nextLink: z.string().optional(),
}));

export const domainResponse = lazySchema(() => z.object({
  name: z.string(),
  state: z.enum(['Pending', 'Verified']),
  txtRecord: z.object({ name: z.string(), value: z.string() }).meta({ description: 'The DNS TXT record that proves control: add it at the domain, then verify.' }),
  addedAt: isoDate,
  verifiedAt: isoDate.optional(),
}));
export const domainListResponse = lazySchema(() => z.object({ value: z.array(domainResponse) }));

export const lifecycleResponse = lazySchema(() => z.object({
  value: z.array(z.object({ guestId: z.string(), email: z.string(), action: z.enum(['delete_pending', 'disable', 'delete']), reason: z.string() })),
}));

export const tenantPageResponse = lazySchema(() => z.object({ value: z.array(tenantResponse), nextLink: z.string().optional() }));
