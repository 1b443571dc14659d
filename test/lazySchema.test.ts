import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { lazySchema } from '../lib/lazySchema.js';

/** The same shapes, built at once and built on first use, nested the way lib/schemas.ts nests them. */
function shapes(wrap: <T extends z.core.$ZodType>(build: () => T) => T, built: string[]) {
  const note = <T extends z.core.$ZodType>(name: string, build: () => T) => wrap(() => (built.push(name), build()));
  const address = note('address', () => z.string().trim().toLowerCase().pipe(z.email()).meta({ description: 'An address, normalised.' }));
  const user = note('user', () => z.object({ id: z.uuid(), email: address, source: z.enum(['OTP', 'Google']).optional() }));
  const body = note('body', () =>
    z.strictObject({ user, codes: z.array(z.string().regex(/^\d{8}$/)).max(2), when: z.iso.datetime().optional().meta({ description: 'When it happened.' }) }),
  );
  const renamed = note('renamed', () => body.extend({ note: z.string().default('none') }).refine((value) => value.codes.length > 0, 'name a code'));
  return { address, user, body, renamed };
}

describe('a schema built on first use', () => {
  it('is built only when first used, once, and the schemas inside it with it', () => {
    const built: string[] = [];
    const { user, renamed } = shapes(lazySchema, built);
    expect(built).toEqual([]);
    expect(Object.keys(user.shape)).toEqual(['id', 'email', 'source']);
    expect(built).toEqual(['user']);
    user.parse({ id: '7b0f8f5e-3c1b-4c5e-9a8f-0d2c1b3a4f5e', email: ' Ann@Contoso.COM ' });
    expect(built).toEqual(['user', 'address']);
    renamed.safeParse({});
    expect(built).toEqual(['user', 'address', 'renamed', 'body']);
  });

  it('parses, refuses and reports issues exactly as the schema built at once', () => {
    const eager = shapes((build) => build(), []);
    const lazy = shapes(lazySchema, []);
    const inputs = [
      { user: { id: '7b0f8f5e-3c1b-4c5e-9a8f-0d2c1b3a4f5e', email: ' Ann@Contoso.COM ', source: 'OTP' }, codes: ['12345678'] },
      { user: { id: 'nope', email: 'not an address' }, codes: ['1234'], extra: true },
      { user: { id: '7b0f8f5e-3c1b-4c5e-9a8f-0d2c1b3a4f5e', email: 'a@b.co' }, codes: [] },
      'not an object',
    ];
    for (const input of inputs) {
      expect(JSON.stringify(lazy.renamed.safeParse(input))).toBe(JSON.stringify(eager.renamed.safeParse(input)));
      expect(JSON.stringify(lazy.body.safeParse(input))).toBe(JSON.stringify(eager.body.safeParse(input)));
    }
  });

  it('converts to the same JSON Schema, descriptions included, for input and for output', () => {
    const eager = shapes((build) => build(), []);
    const lazy = shapes(lazySchema, []);
    for (const io of ['input', 'output'] as const) {
      for (const name of ['address', 'user', 'body', 'renamed'] as const) {
        expect(z.toJSONSchema(lazy[name], { io, unrepresentable: 'any' }), `${name} (${io})`).toEqual(z.toJSONSchema(eager[name], { io, unrepresentable: 'any' }));
      }
    }
    expect(JSON.stringify(z.toJSONSchema(lazy.user))).toContain('An address, normalised.');
  });

  it("answers zod's own type checks as the schema it stands for", () => {
    const { user } = shapes(lazySchema, []);
    expect(user instanceof z.ZodObject).toBe(true);
    expect(Object.keys(user.shape)).toEqual(['id', 'email', 'source']);
    expect(user.partial().safeParse({}).success).toBe(true);
  });
});
