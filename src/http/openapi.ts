import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { markOptionalBodies, withMultipartBody } from './route.js';

/**
 * The OpenAPI document the server serves at /api/docs: every route's request and
 * response schemas, turned from zod by fastify-type-provider-zod. Schemas given an id
 * (`.meta({ id: 'Contact' })`) become components, which the web UI's generated types
 * name (web/src/api-schema.d.ts, `npm run gen:api`).
 */
export const swaggerOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: { title: 'Retrace API', version: '1.0.0', description: 'A CRM contact store in which nothing is lost by mistake.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
  },
  transform: (route) => jsonSchemaTransform(withMultipartBody(route)),
  transformObject: (documents) => withoutUnusedSchemas(markOptionalBodies(jsonSchemaTransformObject(documents) as OpenApiDocument)),
};

interface OpenApiDocument {
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown> };
}

/**
 * The document without the component schemas nothing refers to: the type provider lists
 * every named schema twice, as the answer (`Contact`) and as input (`ContactInput`),
 * though most are only answered.
 */
function withoutUnusedSchemas<T extends OpenApiDocument>(document: T): T {
  const schemas = document.components?.schemas;
  if (!schemas) return document;
  const used = new Set<string>();
  const pending: unknown[] = [document.paths];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next === null || typeof next !== 'object') continue;
    for (const [key, value] of Object.entries(next)) {
      const name = key === '$ref' && typeof value === 'string' ? value.replace('#/components/schemas/', '') : null;
      if (name !== null && !used.has(name)) {
        used.add(name);
        pending.push(schemas[name]);
      }
      pending.push(value);
    }
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  return document;
}
