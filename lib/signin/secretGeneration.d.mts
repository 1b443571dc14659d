import type { JsonWebKey } from 'node:crypto';

export function generateSigningKey(): JsonWebKey & { kid: string };
export function generateSigningKeys(): string;
export function generateCodePepper(): string;
