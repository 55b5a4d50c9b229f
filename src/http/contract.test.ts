import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { z, type ZodType } from 'zod';
import { routeTable, testApp, type TestApp } from '../test-support/harness.js';
import { apiSchemaFile, apiSchemaSource } from './api-schema.js';
import { errorBody } from './errors.js';
import { droppedFields, responseSerializerCompiler } from './responses.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});


const successStatuses = ['200', '201', '202', '204'];

describe('the route table', () => {
  it('gives every API route a zod schema for its success answer, and the one error schema for 4xx and 5xx', async () => {
    const routes = (await routeTable(app.ctx)).filter((route) => route.url.startsWith('/api/v1/'));
    expect(routes.length).toBeGreaterThan(80);
    const lacking = routes.flatMap((route) => {
      const responses = (route.schema?.response ?? {}) as Record<string, unknown>;
      const success = Object.keys(responses).filter((status) => successStatuses.includes(status));
      const named = success.length === 1 && responses[success[0]] instanceof z.ZodType;
      const errors = responses['4xx'] === errorBody && responses['5xx'] === errorBody;
      return named && errors ? [] : [`${String(route.method)} ${route.url}`];
    });
    expect(lacking).toEqual([]);
  });

  it('serves an OpenAPI document in which every operation answers a schema, errors the Error component', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/api/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
    const operations = Object.entries(doc.paths).flatMap(([url, methods]) => Object.entries(methods).map(([method, operation]) => ({ url, method, operation })));
    for (const { url, method, operation } of operations) {
      const [status, success] = Object.entries(operation.responses).find(([code]) => successStatuses.includes(code)) ?? [];
      expect(status, `${method} ${url}`).toBeDefined();
      if (status !== '204') expect(success?.content?.['application/json'].schema, `${method} ${url}`).toBeDefined();
      expect(operation.responses['4XX'].content?.['application/json'].schema, `${method} ${url}`).toEqual({ $ref: '#/components/schemas/Error' });
    }
    expect(doc.paths['/api/v1/contacts/{id}'].get.responses['200'].content?.['application/json'].schema).toEqual({ $ref: '#/components/schemas/Contact' });
  });
});

describe('the web UI’s generated API types', () => {
  it('are what openapi-typescript writes from the document the server builds (run `npm run gen:api` when this fails)', async () => {
    const written = await readFile(apiSchemaFile, 'utf8');
    expect(written === (await apiSchemaSource(app.server.swagger())), `${apiSchemaFile} is out of date: run npm run gen:api`).toBe(true);
  });
});

describe('responses written through their schema', () => {
  const contact = z.object({ id: z.string(), tags: z.array(z.object({ id: z.string() })) });

  it('find the fields a schema would drop, nested ones included, and not those holding undefined', () => {
    expect(droppedFields({ id: 'c', secret: 'x', note: undefined, tags: [{ id: 't', colour: 'red' }] }, contact.encode({ id: 'c', tags: [{ id: 't' }] }))).toEqual([
      ['secret'],
      ['tags', 0, 'colour'],
    ]);
    expect(droppedFields({ id: 'c', tags: [] }, { id: 'c', tags: [] })).toEqual([]);
  });

  const serializerOf = (strict: boolean, schema: ZodType) =>
    responseSerializerCompiler({ strict })({ schema, method: 'GET', url: '/api/v1/contacts/:id', httpStatus: '200' });

  it('refuse, on a strict server, an answer with a field the schema does not name', () => {
    expect(() => serializerOf(true, contact)({ id: 'c', tags: [], secret: 'x' })).toThrow(
      'The response schema of GET /api/v1/contacts/:id (200) does not name secret: add them to it',
    );
    expect(serializerOf(true, contact)({ id: 'c', tags: [] })).toBe('{"id":"c","tags":[]}');
  });

  it('leave out, on any other server, what the schema does not name', () => {
    expect(serializerOf(false, contact)({ id: 'c', tags: [], secret: 'x' })).toBe('{"id":"c","tags":[]}');
  });
});
