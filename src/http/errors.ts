/**
 * The one error type services throw. Its code and status are the contract's
 * (../shared/API.md, "Errors"); the server's error handler turns it into the body.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
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
