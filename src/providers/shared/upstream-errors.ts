import { AppError } from '../../domain/errors.js';
import { isRetryableStatus } from './retry.js';

export type FailureKind =
  /** No response: refused, reset, DNS, TLS, connect timeout, socket closed before headers. */
  | 'connect'
  /** A non-2xx response. */
  | 'status'
  /** The first-byte timeout or the request's budget ran out. */
  | 'timeout'
  /** A 2xx response whose body we could not understand or that ended early. */
  | 'malformed'
  /** The connection broke while the body streamed. */
  | 'stream'
  /** The upstream reported an error inside the event stream. */
  | 'upstream-event';

export interface UpstreamFailureInit {
  status?: number;
  retryAfterMs?: number;
  /** For the log only, never for the caller; redact and truncate before putting it here. */
  detail?: string;
  /** Overrides the kind's default (e.g. an overloaded error event is worth retrying). */
  retryable?: boolean;
}

/**
 * An upstream failure as the providers see it internally. It never reaches the caller: it becomes
 * an AppError with a fixed, safe message through `toAppError`.
 */
export class UpstreamFailure extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly detail: string | undefined;
  readonly retryable: boolean;

  constructor(kind: FailureKind, init: UpstreamFailureInit = {}) {
    super(init.status === undefined ? `upstream ${kind}` : `upstream ${kind} ${init.status}`);
    this.name = 'UpstreamFailure';
    this.kind = kind;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.detail = init.detail;
    this.retryable = init.retryable ?? defaultRetryable(kind, init.status);
  }

  /**
   * Whether this says something about the upstream's health. The caller's own bad request (or a
   * conflict) does not, so it must not push a healthy upstream's circuit open.
   */
  get countsAgainstUpstream(): boolean {
    if (this.kind !== 'status' || this.status === undefined) return true;
    return this.status >= 500 || [401, 403, 408, 429].includes(this.status);
  }
}

function defaultRetryable(kind: FailureKind, status: number | undefined): boolean {
  switch (kind) {
    case 'connect':
    case 'stream':
      return true;
    case 'status':
      return status !== undefined && isRetryableStatus(status);
    // A slow upstream is likely to be slow again; its budget is better spent on a fallback.
    case 'timeout':
    case 'malformed':
    case 'upstream-event':
      return false;
  }
}

/** 4xx statuses that mean the request itself was unacceptable (e.g. too long for the context). */
const CALLER_FAULT_STATUSES = new Set([400, 404, 413, 422]);

function messageFor(failure: UpstreamFailure, afterOutput: boolean): string {
  if (afterOutput) return 'Upstream model provider failed mid-stream';
  const { status } = failure;
  if (failure.kind === 'status' && status !== undefined) {
    if (CALLER_FAULT_STATUSES.has(status)) {
      return `Upstream model provider rejected the request (HTTP ${status}); it may exceed the model's context length or use an unsupported parameter`;
    }
    if (status === 429) return 'Upstream model provider is rate limiting requests';
    if (status === 401 || status === 403) {
      return 'Upstream model provider rejected the gateway credentials';
    }
  }
  if (failure.kind === 'malformed') return 'Upstream model provider sent an unreadable response';
  return 'Upstream model provider failed';
}

/**
 * The caller-facing error for a failure: a fixed message per situation and nothing from the
 * upstream's body, URL or headers, which may hold secrets or another tenant's data.
 */
export function toAppError(failure: UpstreamFailure, afterOutput: boolean): AppError {
  if (failure.kind === 'timeout') {
    return new AppError('UPSTREAM_TIMEOUT', {
      ...(afterOutput ? { message: 'Upstream model provider timed out mid-stream' } : {}),
    });
  }
  return new AppError('UPSTREAM_ERROR', { message: messageFor(failure, afterOutput) });
}

export function circuitOpenError(): AppError {
  return new AppError('UPSTREAM_ERROR', {
    message: 'Upstream temporarily unavailable (circuit open)',
  });
}

const SECRET_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(sk|pk|rk)-[A-Za-z0-9_-]{6,}/g, '[redacted]'],
  [/\bBearer\s+\S+/gi, 'Bearer [redacted]'],
  [/\b(api[_-]?key|x-api-key|authorization)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, '$1$2[redacted]'],
];

/**
 * A short, log-safe excerpt of an upstream's text: known secrets and anything shaped like a key
 * replaced, whitespace collapsed, and cut short so that echoed prompts do not end up in logs.
 */
export function redactForLog(text: string, secrets: readonly string[] = [], limit = 200): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > limit ? `${out.slice(0, limit)}…` : out;
}

/** The error code of a transport error (ECONNREFUSED, UND_ERR_SOCKET, …), safe to log. */
export function transportErrorCode(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return error instanceof Error ? error.name : 'unknown';
}
