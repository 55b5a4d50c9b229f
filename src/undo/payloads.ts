import { z, type ZodType } from 'zod';
import { rollbackParams } from '../rollbacks/payloads.js';
import type { OnConflict, UndoCause } from './service.js';

/**
 * An undo job's params (jobs.params), as zod reads them back: a rollback's (it is written
 * back as one, src/rollbacks) and the cause it undoes and how it meets later changes.
 * Its progress is a rollback's (rollbackProgress).
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

export const undoParams = rollbackParams.extend({ undoCause: cause, onConflict });
