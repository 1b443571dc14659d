import type { JsonWebKey } from 'node:crypto';

export const RSA_MIN_BITS: number;
export function generateSigningKey(kty?: 'EC' | 'RSA'): JsonWebKey & { kid: string };
export function generateSigningKeys(): string;
export function generateCodePepper(): string;
