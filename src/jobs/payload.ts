import { z, type ZodType } from 'zod';

/**
 * A job's params or progress (jsonb the server wrote) read through the schema of its
 * kind: a job whose payload is not what that kind writes fails with what is wrong, rather
 * than running on a guess.
 *
 * ```ts
 * const params = readJobPayload(rollbackParams, job, 'params');
 * ```
 */
export function readJobPayload<T>(schema: ZodType<T>, job: { kind: string; id: string; params: unknown; progress: unknown }, field: 'params' | 'progress'): T {
  const parsed = schema.safeParse(job[field]);
  if (!parsed.success) throw new Error(`The ${field} of ${job.kind} job ${job.id} are not a ${job.kind}'s: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
