/**
 * The one error catalog. Every layer raises AppError with a code from here; the HTTP layer turns it
 * into the contract's error body, so a status code or error type is never chosen anywhere else.
 */
export const ERROR_CATALOG = {
  INVALID_JSON: {
    status: 400,
    type: 'invalid_request_error',
    message: 'Request body is not valid JSON',
  },
  UNAUTHORIZED: {
    status: 401,
    type: 'authentication_error',
    message: 'Missing or invalid credentials',
  },
  FORBIDDEN: { status: 403, type: 'permission_error', message: 'Not permitted' },
  NOT_FOUND: { status: 404, type: 'invalid_request_error', message: 'Resource not found' },
  METHOD_NOT_ALLOWED: { status: 405, type: 'invalid_request_error', message: 'Method not allowed' },
  CONFLICT: { status: 409, type: 'invalid_request_error', message: 'Conflict' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    type: 'invalid_request_error',
    message: 'Request body exceeds 1 MiB',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    type: 'invalid_request_error',
    message: 'Content-Type must be application/json',
  },
  VALIDATION_ERROR: {
    status: 422,
    type: 'invalid_request_error',
    message: 'Request failed schema validation',
  },
  RATE_LIMITED: { status: 429, type: 'rate_limit_error', message: 'Rate limit exceeded' },
  INTERNAL_ERROR: { status: 500, type: 'api_error', message: 'Internal server error' },
  UPSTREAM_ERROR: { status: 502, type: 'api_error', message: 'Upstream model provider failed' },
  OVERLOADED: {
    status: 503,
    type: 'overloaded_error',
    message: 'Server is overloaded; retry later',
  },
  UPSTREAM_TIMEOUT: {
    status: 504,
    type: 'api_error',
    message: 'Upstream model provider timed out',
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface ErrorDetail {
  field: string;
  issue: string;
}

export interface AppErrorOptions {
  message?: string;
  param?: string | null;
  details?: ErrorDetail[];
  headers?: Record<string, string>;
  /** Facts for the server's log line about this error; never sent to the client. */
  logFields?: Record<string, string | number>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;
  readonly logFields: Record<string, string | number>;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry = ERROR_CATALOG[code];
    super(
      options.message ?? entry.message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'AppError';
    this.code = code;
    this.status = entry.status;
    this.type = entry.type;
    this.details = options.details ?? [];
    this.param = options.param ?? this.details[0]?.field ?? null;
    this.headers = options.headers ?? {};
    this.logFields = options.logFields ?? {};
  }
}

export function validationError(field: string, issue: string): AppError {
  return new AppError('VALIDATION_ERROR', { param: field, details: [{ field, issue }] });
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
