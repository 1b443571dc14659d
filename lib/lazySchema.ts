import * as z from 'zod';

/**
 * A zod schema built the first time it is used instead of when its module loads.
 *
 * zod's classic API attaches dozens of methods to every schema it constructs, so the
 * few hundred schemas of the HTTP API cost a cold start tens of milliseconds while a
 * worker that only ever answers session-check needs a handful of them. The answer is a
 * stand-in with the schema's exact type that builds it on first touch and then
 * forwards every operation to it; a stand-in used inside another schema is built when
 * that schema is. The metadata `.meta()` gave the schema is copied to the stand-in in
 * zod's global registry, so `z.toJSONSchema` (the OpenAPI document) reads the same
 * descriptions through either.
 */
export function lazySchema<T extends z.core.$ZodType>(build: () => T): T {
  let schema: T | undefined;
  let internals: z.core.$ZodTypeInternals | undefined;
  const built = (): T => {
    if (schema === undefined) {
      schema = build();
      const meta = z.globalRegistry.get(schema);
      if (meta) {
        // An id is unique in the registry: the built schema keeps it.
        const { id: _id, ...described } = meta;
        z.globalRegistry.add(standIn, described);
      }
    }
    return schema;
  };
  /**
   * The schema's internals, but for one thing: `z.toJSONSchema` keeps what it learns of a
   * schema under the object it was handed (this stand-in), while the schema's own
   * processor, made by zod when it built the schema, looks it up under the built schema.
   * The stand-in's internals file the same record under both.
   */
  const standInInternals = (): z.core.$ZodTypeInternals => {
    if (internals === undefined) {
      const real = built();
      const own = real._zod as z.core.$ZodTypeInternals & { processJSONSchema?: JsonSchemaProcessor };
      const process = own.processJSONSchema;
      internals = Object.create(own, {
        processJSONSchema: {
          value: process && ((context: JsonSchemaContext, json: unknown, params: unknown) => {
            if (!context.seen.has(real)) context.seen.set(real, context.seen.get(standIn));
            return process(context, json, params);
          }),
        },
      }) as z.core.$ZodTypeInternals;
    }
    return internals;
  };
  const standIn = new Proxy(Object.create(null) as T, {
    get: (_, key) => (key === '_zod' ? standInInternals() : Reflect.get(built(), key)),
    has: (_, key) => Reflect.has(built(), key),
    set: (_, key, value) => Reflect.set(built(), key, value),
    ownKeys: () => Reflect.ownKeys(built()),
    // The stand-in's own target holds nothing, so no property may be reported fixed.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(built(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(built()),
  });
  return standIn;
}

/** What zod's JSON Schema processors are handed (zod/v4/core/to-json-schema.js): only `seen` matters here. */
interface JsonSchemaContext {
  seen: Map<unknown, unknown>;
}
type JsonSchemaProcessor = (context: JsonSchemaContext, json: unknown, params: unknown) => void;
