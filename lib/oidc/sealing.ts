import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Config } from '../config.js';

/**
 * Opaque values the server hands out and reads back: AES-256-GCM under a key derived
 * (HKDF-SHA256) from CODE_PEPPER, one key per purpose, with the context they belong to
 * as additional data. A holder learns nothing from them (a fresh IV each time, so even
 * equal contents look different) and cannot forge or move one to another context.
 * Rotating CODE_PEPPER voids every sealed value, like the codes it already protects.
 */
export type SealPurpose = 'session-partition' | 'authorization-code' | 'authorization-request';

/** What sealing needs of the configuration: the server secret. */
type SealingConfig = Pick<Config, 'code'> | { code: { pepper: string } };

const derived = new WeakMap<SealingConfig, Map<SealPurpose, Buffer>>();

function keyFor(config: SealingConfig, purpose: SealPurpose): Buffer {
  let keys = derived.get(config);
  if (!keys) derived.set(config, (keys = new Map()));
  let key = keys.get(purpose);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', config.code.pepper, 'guestpass-sealing', purpose, 32));
    keys.set(purpose, key);
  }
  return key;
}

export function seal(config: SealingConfig, purpose: SealPurpose, plaintext: Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(config, purpose), iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The sealed bytes, or undefined for anything not sealed by us for this purpose and context. */
export function unseal(config: SealingConfig, purpose: SealPurpose, sealed: string, context: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]{38,8192}$/.test(sealed)) return undefined;
  const bytes = Buffer.from(sealed, 'base64url');
  // Only the canonical encoding: Buffer.from drops trailing characters that make no whole byte.
  if (bytes.length < 28 || bytes.toString('base64url') !== sealed) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(config, purpose), bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * A guest partition named opaquely: `<row id>.<sealed email digest>`. The row id is the
 * random part (the row key); the sealed part lets the server find the partition
 * without a lookup and without any claim a holder could match against a guessed address.
 */
export function opaquePartitionRef(config: SealingConfig, purpose: SealPurpose, tenantId: string, rowId: string, emailDigest: string): string {
  return `${rowId}.${seal(config, purpose, Buffer.from(emailDigest, 'base64url'), `${tenantId}.${rowId}`)}`;
}

export function readPartitionRef(config: SealingConfig, purpose: SealPurpose, tenantId: string, ref: string): { rowId: string; emailDigest: string } | undefined {
  const dot = ref.indexOf('.');
  if (dot <= 0) return undefined;
  const rowId = ref.slice(0, dot);
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(rowId)) return undefined;
  const digest = unseal(config, purpose, ref.slice(dot + 1), `${tenantId}.${rowId}`);
  if (!digest || digest.length !== 32) return undefined;
  return { rowId, emailDigest: digest.toString('base64url') };
}
