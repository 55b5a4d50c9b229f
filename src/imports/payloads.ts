import { z, type ZodType } from 'zod';
import { membershipStatuses } from '../lists/service.js';
import type { CsvPosition } from './csv.js';
import type { ImportCounts } from './load.js';
import { importModes, type ColumnPlan, type ColumnTarget, type ImportMapping } from './mapping.js';

/** The jsonb an import job keeps (jobs.params, jobs.progress), as zod reads it back: the service reads these, never a cast. */

const mapping: ZodType<ImportMapping> = z.object({
  columns: z.record(z.string(), z.string()),
  mode: z.enum(importModes),
  listStatus: z.enum(membershipStatuses).optional(),
  confirmOverage: z.boolean().optional(),
});

const target: ZodType<ColumnTarget> = z.union([
  z.object({ kind: z.enum(['email', 'firstName', 'lastName', 'phone', 'tag', 'account', 'jobTitle']) }),
  z.object({ kind: z.literal('field'), name: z.string() }),
  z.object({ kind: z.literal('list'), listId: z.string() }),
]);

const plan: ZodType<ColumnPlan> = z.object({
  mode: z.enum(importModes),
  listStatus: z.enum(membershipStatuses).nullable(),
  confirmOverage: z.boolean(),
  width: z.number().int(),
  columns: z.array(z.object({ index: z.number().int(), header: z.string(), target })),
});

/** How an import's batches are cut (rows a batch, parts a batch), fixed when it is queued. */
export interface ImportCut {
  rows: number;
  parts: number;
}

export const importParams = z.object({
  /** The uploaded file's name in the import store. */
  fileName: z.string(),
  originalName: z.string().nullable(),
  byteSize: z.number(),
  mapping,
  plan,
  /** Absent from imports queued before batches were cut into parts. */
  cut: z.object({ rows: z.number().int().positive(), parts: z.number().int().positive() }).optional(),
});
export type ImportParams = z.infer<typeof importParams>;

const count = z.number().int();

/** Where the import is in its file and what it has done. */
export interface ImportProgress extends CsvPosition, ImportCounts {
  /** `loading` while rows are left; `finishing` while the work data goes. */
  phase: 'loading' | 'finishing';
}

export const importProgress: ZodType<ImportProgress> = z.object({
  offset: z.number(),
  newlines: z.number(),
  rows: count,
  created: count,
  updated: count,
  failed: count,
  tagsCreated: count,
  accountsCreated: count,
  phase: z.enum(['loading', 'finishing']),
});

/** What a part of a batch did, and where its batch ends (the same for every part of it): import_batch_parts.outcome. */
export interface PartOutcome {
  counts: ImportCounts;
  end: CsvPosition;
  done: boolean;
}

export const partOutcome: ZodType<PartOutcome> = z.object({
  counts: z.object({ rows: count, created: count, updated: count, failed: count, tagsCreated: count, accountsCreated: count }),
  end: z.object({ offset: z.number(), newlines: z.number() }),
  done: z.boolean(),
});
