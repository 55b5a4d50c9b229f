import type { Readable } from 'node:stream';
import type { FastifySerializerCompiler } from 'fastify';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';

/** A time as the API writes it: ISO-8601 in UTC (`toISOString()`). */
export const timestamp = z.string().meta({ format: 'date-time' });

/**
 * A CSV download: the handler returns the stream, which Fastify sends as it is read
 * without serializing it. The OpenAPI document shows it as the text it is; the type says
 * what the handler really returns (zod has no JSON Schema for a stream).
 */
export const csvDownload = z.string().describe('text/csv, header row first, streamed') as unknown as ZodType<Readable>;


type FieldPath = (string | number)[];

/**
 * The fields of `value` that `written` left out: what a response schema that does not name
 * a field drops from the answer. Only plain objects and arrays are walked; a field holding
 * undefined is no field (JSON.stringify leaves it out anyway).
 */
export function droppedFields(value: unknown, written: unknown, path: FieldPath = []): FieldPath[] {
  if (Array.isArray(value) && Array.isArray(written)) {
    return value.flatMap((item, i) => droppedFields(item, written[i], [...path, i]));
  }
  if (!isPlainObject(value) || !isPlainObject(written)) return [];
  return Object.entries(value).flatMap(([key, item]) => {
    if (item === undefined) return [];
    if (!(key in written)) return [[...path, key]];
    return droppedFields(item, written[key], [...path, key]);
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * Responses are serialized by their route's zod schema (fastify-type-provider-zod's
 * serializer: zod's encode, then JSON): what the schema does not name is not sent, so the
 * OpenAPI document and the web UI's types generated from it are what clients get. A
 * schema that forgot a field the service returns would silently take it from clients:
 * with `strict` (the tests' servers) such a response fails instead, naming the fields, so
 * every test run checks the schemas against what the services return.
 */
export function responseSerializerCompiler(options: { strict: boolean }): FastifySerializerCompiler<ZodType> {
  return (route) => {
    const serialize = serializerCompiler(route);
    if (!options.strict) return serialize;
    return (data) => {
      const text = serialize(data);
      const dropped = droppedFields(data, JSON.parse(text) as unknown);
      if (dropped.length > 0) {
        const fields = dropped.map((path) => path.join('.')).join(', ');
        throw new Error(`The response schema of ${route.method} ${route.url} (${String(route.httpStatus)}) does not name ${fields}: add them to it`);
      }
      return text;
    };
  };
}
