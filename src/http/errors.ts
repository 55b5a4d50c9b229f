import { z } from 'zod';

/**
 * Every error code the server answers: the contract's (../shared/API.md, "Errors", and
 * the codes its later sections add), and the server's own `rate_limited` (public form
 * submissions), `key_store_unavailable` (503: an erasure that cannot rewrite the backup
 * keyring, refused whole) and `internal` (a 500 with no internals). The error body's schema makes
 * this an enum of the OpenAPI document, so the web UI's generated types know each code.
 */
export const errorCodes = [
  'invalid_request',
  'unauthenticated',
  'forbidden',
  'four_eyes_required',
  'permission_not_held',
  'admin_required',
  'not_found',
  'restore_job_running',
  'contact_limit_exceeded',
  'email_taken',
  'invalid_state',
  'cannot_deactivate_self',
  'cannot_change_own_role',
  'last_admin',
  'mass_delete_held',
  'confirmation_required',
  'too_many_contacts',
  'point_not_recoverable',
  'retention_out_of_range',
  'file_too_large',
  'rate_limited',
  'key_store_unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** The one error body of every route: `{error:{code, message, details}}`. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: 'Error' });

/**
 * The one error type services throw. Its code and status are the contract's
 * (../shared/API.md, "Errors"); the server's error handler turns it into the body.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const invalidRequest = (message: string, details: Record<string, unknown> = {}) =>
  new AppError(400, 'invalid_request', message, details);

export const unauthenticated = () => new AppError(401, 'unauthenticated', 'A valid bearer token is required');

export const forbidden = (permission: string) =>
  new AppError(403, 'forbidden', `This action needs the permission ${permission}`, { permission });

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);

export const invalidState = (message: string, details: Record<string, unknown> = {}) =>
  new AppError(409, 'invalid_state', message, details);

export const emailTaken = (contactId: string) =>
  new AppError(409, 'email_taken', 'Another active or archived contact has this email', { contactId });

/**
 * A retention setting the workspace may not take: over the operator's limit, or an
 * archive freeze not shorter than the archive's keep (`details`: field, value, min or max).
 */
export const retentionOutOfRange = (message: string, details: Record<string, unknown>) =>
  new AppError(422, 'retention_out_of_range', message, details);
