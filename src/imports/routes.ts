import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { csvDownload, timestamp } from '../http/responses.js';
import { importModes, mappingSchema } from './mapping.js';
import { exportContactsCsv } from './export.js';
import { getImport, importErrorsCsv, listImportErrors, listImports } from './service.js';
import { receiveImport } from './upload.js';

/** A CSV download: streamed as it is read, saved under `fileName` by browsers. */
function sendCsv(reply: FastifyReply, fileName: string, content: AsyncIterable<string>): Readable {
  reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${fileName}"`);
  return Readable.from(content);
}

/** CSV when asked for by `?format=csv` or an Accept header that prefers text/csv. */
const wantsCsv = (request: FastifyRequest, format: 'json' | 'csv' | undefined) =>
  format === 'csv' || (format === undefined && request.headers.accept !== undefined && /^\s*text\/csv\b/.test(request.headers.accept));

export const importSchema = z
  .object({
    id: z.string(),
    status: z.enum(['awaiting_approval', 'queued', 'running', 'succeeded', 'failed']),
    rows: z.number().int().describe('Data rows read so far (the header is not one)'),
    created: z.number().int(),
    updated: z.number().int(),
    failed: z.number().int(),
    createdBy: z.string().nullable(),
    createdAt: timestamp,
    finishedAt: timestamp.nullable(),
    mode: z.enum(importModes),
    fileName: z.string().nullable(),
    byteSize: z.number().int(),
    bytesRead: z.number().int().describe('How far into the file the import has read: its progress against byteSize'),
    columns: z.record(z.string(), z.string()),
    tagsCreated: z.number().int(),
    accountsCreated: z.number().int(),
    startedAt: timestamp.nullable(),
    error: z.string().optional(),
  })
  .meta({ id: 'Import' });

const badRowSchema = z
  .object({ line: z.number().int().describe('The file line (line 1 is the header)'), reason: z.string(), message: z.string() })
  .meta({ id: 'ImportError' });

/**
 * POST /imports's body, as receiveImport reads it: the mapping part (an object, so
 * OpenAPI has it sent as JSON text) and the file part.
 */
const importUpload = z.object({
  mapping: mappingSchema,
  file: z.file().describe('The CSV file: UTF-8, its header row first'),
});

export const importRoutes: RouteModule = (app, ctx) => {
  const tag = 'imports';

  // Only POST /imports takes multipart bodies: the plugin's parser is registered in this
  // route's own scope, and every other route keeps refusing bodies that are not JSON.
  void app.register(async (scope) => {
    await scope.register(multipart);
    addRoute(scope, ctx, {
      method: 'POST', url: '/imports', summary: 'Import contacts from a CSV file (multipart: a file part and a mapping part), as a background job', tag,
      access: { user: 'contacts.write' }, status: 202, response: importSchema, multipartBody: importUpload,
      handler: ({ request, change }) => receiveImport(ctx, change, request),
    });
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/imports', summary: 'Imports, newest first', tag, response: pageOf(importSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listImports(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/imports/:id', summary: 'An import: its progress while it runs, its counts at the end', tag, response: importSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ principal, params }) => getImport(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/imports/:id/errors', summary: 'The rows an import did not load, by line, with why (CSV with ?format=csv or Accept: text/csv)', tag,
    access: { user: 'contacts.read' }, params: idParams('id'), response: z.union([pageOf(badRowSchema), csvDownload]),
    query: z.object({ format: z.enum(['json', 'csv']).optional(), ...pageQuery }),
    handler: async ({ principal, params, query, request, reply }) => {
      if (!wantsCsv(request, query.format)) return listImportErrors(ctx.db, principal.workspaceId, params.id, query);
      return sendCsv(reply, `import-${params.id}-errors.csv`, await importErrorsCsv(ctx.db, principal.workspaceId, params.id));
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/export', summary: 'The contacts GET /contacts would list, as CSV (header row first), streamed', tag,
    response: csvDownload,
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), status: z.enum(['active', 'archived', 'deleted', 'merged']).default('active') }),
    handler: async ({ principal, query, reply }) =>
      sendCsv(reply, `contacts-${query.status}.csv`, await exportContactsCsv(ctx.db, principal.workspaceId, query)),
  });
};
