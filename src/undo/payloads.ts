import { z, type ZodType } from 'zod';
import type { OnConflict, UndoCause } from './service.js';

/**
 * What only an undo job keeps in its jobs.params, as zod reads it back: the cause it
 * undoes and how it meets later changes. How it is written back (its point, the cause's
 * transactions, its checkpoint) is a rollback's: its rollback_jobs row (src/rollbacks).
 *
 * ```ts
 * const params = readJobPayload(undoParams, job, 'params');
 * ```
 */
const cause: ZodType<UndoCause> = z.union([
  z.object({ importId: z.string() }),
  z.object({ tokenId: z.string(), from: z.string(), to: z.string() }),
  z.object({ actorId: z.string(), from: z.string(), to: z.string() }),
  z.object({ automationId: z.string(), from: z.string(), to: z.string() }),
  z.object({ mergeId: z.string() }),
  z.object({ undoId: z.string() }),
]);

const onConflict: ZodType<OnConflict> = z.enum(['keep_later', 'undo_anyway']);

export const undoParams = z.object({ undoCause: cause, onConflict });
