// The OpenAPI generator (lib/openapi.ts) and zod's JSON Schema conversion: only the first
// GET /api/openapi.json needs them. The bundle carries its own copy of the schemas it
// documents, which is all the generator reads.
export { openApiDocument } from '../openapi.js';
