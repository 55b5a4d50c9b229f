import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { markOptionalBodies } from './route.js';

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
  transform: jsonSchemaTransform,
  transformObject: (documents) => markOptionalBodies(jsonSchemaTransformObject(documents) as { paths?: Record<string, Record<string, unknown>> }),
};
