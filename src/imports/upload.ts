import { randomUUID } from 'node:crypto';
import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import type { ChangeContext } from '../db/database.js';
import { AppError, invalidRequest } from '../http/errors.js';
import { parseMapping, type ImportMapping } from './mapping.js';
import { fileTooLarge, importStore, queueImport, readingUpload, storeUpload, UploadReadError, type ImportRef, type ImportView, type StoredUpload } from './service.js';

/** The mapping part is small: anything larger is not a mapping. */
const maxMappingBytes = 1024 * 1024;

const partIssue = (path: string[], message: string) => ({ in: 'body', path, message });

/**
 * POST /imports: reads the multipart body part by part (@fastify/multipart), streaming
 * the `file` part into the import store and parsing the `mapping` part, then queues the
 * import. Answers once the file is stored and the job committed; any bad input is a 400
 * (a file over the limit 413) with nothing left behind.
 */
export async function receiveImport(ctx: AppContext, change: ChangeContext, request: FastifyRequest): Promise<ImportView> {
  if (!request.isMultipart()) {
    throw invalidRequest('POST /imports takes multipart/form-data: a file part (CSV) and a mapping part (JSON)', {
      issues: [partIssue([], 'not multipart/form-data')],
    });
  }
  const ref: ImportRef = { workspaceId: change.workspaceId, id: randomUUID(), createdBy: change.actorId, tokenId: change.tokenId ?? null };
  const maxBytes = ctx.config.importMaxBytes;
  let mapping: ImportMapping | undefined;
  let stored: StoredUpload | undefined;
  let originalName: string | null = null;
  try {
    const parts = request.parts({ limits: { fileSize: maxBytes, files: 2, fields: 2, parts: 3, fieldSize: maxMappingBytes } });
    for await (const part of readingUpload(parts)) {
      if (part.fieldname === 'mapping') {
        if (mapping !== undefined) throw invalidRequest('The body has two mapping parts', { issues: [partIssue(['mapping'], 'given twice')] });
        mapping = parseMapping(await mappingText(part));
      } else if (part.fieldname === 'file' && part.type === 'file') {
        if (stored) throw invalidRequest('The body has two file parts', { issues: [partIssue(['file'], 'given twice')] });
        stored = await storeUpload(ctx.config, ref, part.file, maxBytes);
        originalName = part.filename || null;
      } else {
        if (part.type === 'file') part.file.resume();
        const message = part.fieldname === 'file' ? 'the file must be sent as a file part (with a filename)' : 'unknown part: POST /imports takes a file part and a mapping part';
        throw invalidRequest(`The body has a part it cannot take: ${part.fieldname}`, { issues: [partIssue([part.fieldname], message)] });
      }
    }
    const missing = [...(stored ? [] : ['file']), ...(mapping ? [] : ['mapping'])];
    if (!stored || !mapping) {
      throw invalidRequest(`The body has no ${missing.join(' and no ')} part`, { issues: missing.map((name) => partIssue([name], 'missing')) });
    }
  } catch (error) {
    if (stored) await importStore(ctx.config).remove(stored.fileName);
    throw asClientError(error, maxBytes);
  }
  return queueImport(ctx, ref, { stored, mapping, originalName });
}

async function mappingText(part: Multipart): Promise<string> {
  if (part.type === 'file') {
    const bytes = await part.toBuffer();
    if (bytes.length > maxMappingBytes) throw invalidRequest('The mapping part is too large', { issues: [partIssue(['mapping'], `over ${maxMappingBytes} bytes`)] });
    return bytes.toString('utf8');
  }
  if (part.valueTruncated) throw invalidRequest('The mapping part is too large', { issues: [partIssue(['mapping'], `over ${maxMappingBytes} bytes`)] });
  // @fastify/multipart parses a part sent as application/json itself.
  return typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
}

/** What reading the body threw, as the client's error: its body was bad, not the server. */
function asClientError(error: unknown, maxBytes: number): unknown {
  if (error instanceof AppError || !(error instanceof UploadReadError)) return error;
  const code = (error.cause as { code?: string } | undefined)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return fileTooLarge(maxBytes);
  if (code === 'FST_INVALID_JSON_FIELD_ERROR') return invalidRequest('The mapping part is not JSON', { issues: [partIssue(['mapping'], 'not JSON')] });
  return invalidRequest(`The multipart body cannot be read: ${error.message}`, { issues: [partIssue([], error.message)] });
}
