import { z, type ZodType } from 'zod';
import { planChunks, type RollbackCounts, type RollbackScope, type SkippedContact } from './plan.js';

/**
 * The jsonb a rollback job keeps (jobs.params, jobs.progress), as zod reads it back: the
 * service reads these, never a cast. Objects are loose where another kind builds on them
 * (an undo by cause adds its own params, src/undo), so nothing it wrote is dropped.
 */

const scope: ZodType<RollbackScope> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('workspace') }),
  z.object({ type: z.literal('contacts'), contactIds: z.array(z.string()) }),
]);

export const rollbackParams = z.looseObject({
  at: z.string(),
  scope,
  resumeAutomations: z.boolean(),
  undoOf: z.string().optional(),
  undoTxids: z.array(z.string()).optional(),
  cause: z.object({ txids: z.array(z.string()), undoAnyway: z.boolean(), merge: z.boolean() }).optional(),
  batchSize: z.number().int().positive().optional(),
});

/** What a rollback does, by table ({add, change, remove} or, for contacts, {revive, revert, remove}), and what it skips. */
const counts: ZodType<RollbackCounts> = z
  .object({ skipped: z.object({ contacts: z.number(), changedSincePlan: z.number().optional() }) })
  .catchall(z.record(z.string(), z.number()));

const skippedContact: ZodType<SkippedContact> = z.object({ contactId: z.string(), reason: z.string(), takenBy: z.string().optional() });

/** A rollback's checkpoint. */
const fullProgress = z.object({
  /** plan, parents, release, contacts or done: read as any string, so that a job in another is still shown, and its next step fails naming it. */
  phase: z.string(),
  cursor: z.string(),
  contactsTotal: z.number(),
  contactsDone: z.number(),
  counts: counts.nullable(),
  /** The plan's own counts; `counts` adds the deals a partial rollback will mend. */
  planCounts: counts.optional(),
  skipped: z.array(skippedContact),
  /** Every transaction that wrote rows: what an undo puts back. */
  txids: z.array(z.string()),
  /** The chunks of the plan committed so far (planChunks), while the phase is plan. */
  planned: z.array(z.enum(planChunks)),
});
export type RollbackProgress = z.infer<typeof fullProgress>;

/** What jobs.progress holds: a job not started yet (or one queued before a field existed) has only some of the checkpoint. */
export const rollbackProgress = fullProgress.partial();
