import pino, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

/** pino's levels, most severe first; `silent` logs nothing. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export const isLogLevel = (value: string): value is LogLevel => (logLevels as readonly string[]).includes(value);

const email = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const apiToken = /\brt\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}/g;
const bearer = /\b(Bearer\s+)[^\s"\\]+/gi;

/**
 * A log line's last guard: email addresses, API tokens, bearer credentials and the given
 * secrets (the operator token) are masked in whatever was written. Lines are built to
 * hold none of them (no bodies, URLs or error values are logged); this catches the one
 * that slips through.
 */
function masking(secrets: readonly string[]): (line: string) => string {
  const known = secrets.filter((secret) => secret.length >= 8);
  return (line) => {
    let masked = line.replace(email, '[email]').replace(apiToken, '[token]').replace(bearer, '$1[redacted]');
    for (const secret of known) masked = masked.replaceAll(secret, '[secret]');
    return masked;
  };
}

/** Names a database error gives of the things it concerns: never a value. */
const databaseNames = ['severity', 'constraint', 'table', 'column', 'schema', 'dataType', 'routine'] as const;
/** What an SMTP error (nodemailer) says of the exchange, without the server's text (it quotes the recipient). */
const smtpFields = ['command', 'responseCode'] as const;

const isSqlState = (code: unknown): code is string => typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);

/**
 * An error as a log line shows it: its type, code, message and stack, a database error's
 * names of things, an SMTP error's command and reply code, and its cause alike. Never the
 * values an error object carries: a database error's `detail` ("Key (email)=(…) already
 * exists") and `where`, the query and its parameters (PGlite's `query` and `params`), an
 * SMTP server's response (it quotes the recipient). A data exception (SQLSTATE class 22)
 * quotes the value it refused (`invalid input syntax for type uuid: "…"`), so quoted text
 * in its message is masked.
 */
export function loggableError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const fields = error as unknown as Record<string, unknown>;
  const code = fields.code;
  const quotesValues = isSqlState(code) && code.startsWith('22');
  const mask = (text: string) => (quotesValues ? text.replace(/"(?:[^"]|"")*"/g, '"…"') : text);
  const shown: Record<string, unknown> = { type: error.constructor.name, message: mask(error.message) };
  if (typeof code === 'string' || typeof code === 'number') shown.code = code;
  for (const name of isSqlState(code) ? databaseNames : smtpFields) {
    if (typeof fields[name] === 'string' || typeof fields[name] === 'number') shown[name] = fields[name];
  }
  if (error.stack) {
    // The stack's first lines repeat the message: show it masked, then the frames.
    const frames = error.stack.split('\n').filter((line) => /^\s+at /.test(line));
    shown.stack = [`${error.constructor.name}: ${mask(error.message)}`, ...frames].join('\n');
  }
  if (error.cause !== undefined && depth < 5) shown.cause = loggableError(error.cause, depth + 1);
  return shown;
}

/** Keys of a logged object whose values are credentials or a person's data: redacted, at the top and one level down. */
const personalKeys = ['authorization', 'token', 'password', 'email', 'to', 'firstName', 'lastName', 'first_name', 'last_name', 'phone'];

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go: a stream, or a file descriptor (stdout, 1, by default). */
  destination?: DestinationStream | number;
  /** Human-readable lines (pino-pretty) instead of JSON: for a developer's terminal. */
  pretty?: boolean;
  /** Values masked wherever they would appear (the operator token). */
  secrets?: readonly string[];
}

/**
 * The server's logger: JSON lines (pino), errors shown by loggableError, and personal
 * data kept out (see masking). Fastify logs its requests through it, one line each.
 *
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.error({ err: error, jobId: job.id }, 'job failed');
 * ```
 */
export function createLogger(options: LoggerOptions): Logger {
  const to = options.destination ?? 1;
  const destination = options.pretty ? pinoPretty({ destination: to, colorize: true, singleLine: true, ignore: 'pid,hostname' }) : typeof to === 'number' ? pino.destination(to) : to;
  return pino(
    {
      level: options.level,
      serializers: { err: loggableError, error: loggableError },
      // Objects someone passes to the logger: their credentials and contact fields go.
      redact: {
        paths: [...personalKeys, ...personalKeys.map((key) => `*.${key}`), '*.headers.authorization', '*.headers.cookie'],
        censor: '[redacted]',
      },
      hooks: { streamWrite: masking(options.secrets ?? []) },
    },
    destination,
  );
}

/** Logs nothing: the tests' default, so the suite stays quiet unless a test captures its log. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Pretty lines only for a person at a terminal: stdout is a TTY and NODE_ENV is not production. */
export const wantsPrettyLogs = (stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean =>
  stream.isTTY === true && env.NODE_ENV !== 'production';
