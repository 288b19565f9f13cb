/**
 * Sorting failures by what they mean for the connection. pg reports server errors with SQLSTATE
 * `code` and `severity`, socket errors with a Node `code`, and its own state errors by message only.
 */

interface ErrorShape {
  code?: unknown;
  severity?: unknown;
  message?: unknown;
}

const SOCKET_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

const PG_CONNECTION_LOSS_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

function shapeOf(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

/**
 * The server rejected one statement and the session carries on (constraint violation, syntax
 * error, statement timeout …). Anything else leaves the connection in doubt, so it is destroyed
 * rather than handed to the next caller.
 */
export function isStatementError(error: unknown): boolean {
  const { code, severity } = shapeOf(error);
  return severity === 'ERROR' && typeof code === 'string' && !code.startsWith('08');
}

/** The session is gone: the backend was terminated or crashed, or the socket broke. */
export function isConnectionLoss(error: unknown): boolean {
  const { code, severity, message } = shapeOf(error);
  if (severity === 'FATAL' || severity === 'PANIC') return true;
  if (typeof code === 'string' && (code.startsWith('08') || SOCKET_ERROR_CODES.has(code))) {
    return true;
  }
  return (
    typeof message === 'string' &&
    PG_CONNECTION_LOSS_MESSAGES.some((known) => message.startsWith(known))
  );
}
