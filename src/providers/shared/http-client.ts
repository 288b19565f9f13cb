import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { transportErrorCode, UpstreamFailure } from './upstream-errors.js';

export interface UpstreamHttpClientOptions {
  /** The upstream's base URL; request paths are appended to its path. */
  baseUrl: string;
  /** Time allowed to open a TCP (and TLS) connection. */
  connectTimeoutMs: number;
  /** Most sockets open to the upstream at once; unlimited by default. */
  connections?: number;
}

export interface PostOptions {
  /** Appended to the base URL's path, e.g. `/chat/completions`. */
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The client's signal: aborting it aborts the upstream request at any point. */
  signal: AbortSignal;
  /** Time allowed until the response headers arrive. */
  firstByteTimeoutMs: number;
  /** `performance.now()` by which the whole exchange, body included, must be over. */
  deadline: number;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Read lazily: undici stops reading the socket while this is not consumed. */
  body: AsyncIterable<Uint8Array>;
  /** Up to `limitBytes` of the body as text (for logging an error response); drops the rest. */
  readText(limitBytes: number): Promise<string>;
  /** Waits at most `ms` more for the body to end, then cuts the connection. */
  endWithin(ms: number): void;
}

export interface UpstreamExchange {
  /** Rejects with the client's abort reason, an UpstreamFailure('timeout') or ('connect'). */
  response: Promise<UpstreamResponse>;
  /**
   * What an error thrown while reading the body means: the client's abort reason, our timer's
   * UpstreamFailure('timeout'), or an UpstreamFailure('stream').
   */
  bodyFailure(error: unknown): unknown;
  /** Ends the exchange: clears its timers and aborts the request if it is still running. */
  dispose(): void;
}

/** Why an exchange was cut short, passed as the abort reason so undici rethrows it as is. */
class ExchangeEnded extends Error {
  constructor() {
    super('exchange ended');
    this.name = 'ExchangeEnded';
  }
}

/**
 * One pooled, keep-alive connection pool to an upstream origin. Every request gets its own abort
 * controller, which the client's signal, the first-byte timer and the deadline all trip.
 */
export class UpstreamHttpClient {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(options: UpstreamHttpClientOptions) {
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connect: { timeout: options.connectTimeoutMs },
      ...(options.connections === undefined ? {} : { connections: options.connections }),
    });
  }

  post(options: PostOptions): UpstreamExchange {
    const controller = new AbortController();
    const timers: NodeJS.Timeout[] = [];
    // Once aborted nothing is left to time; the timers go so that an abandoned exchange holds
    // nothing alive.
    const abort = (reason: unknown): void => {
      for (const timer of timers) clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort(reason);
    };
    const arm = (ms: number, reason: () => unknown): NodeJS.Timeout => {
      const timer = setTimeout(() => abort(reason()), ms);
      timer.unref();
      timers.push(timer);
      return timer;
    };
    arm(
      Math.max(0, options.deadline - performance.now()),
      () => new UpstreamFailure('timeout', { detail: 'request budget exhausted' }),
    );
    const firstByte = arm(
      options.firstByteTimeoutMs,
      () => new UpstreamFailure('timeout', { detail: 'no response headers in time' }),
    );

    const onClientAbort = (): void => abort(options.signal.reason);
    options.signal.addEventListener('abort', onClientAbort, { once: true });
    if (options.signal.aborted) onClientAbort();

    const dispose = (): void => {
      options.signal.removeEventListener('abort', onClientAbort);
      abort(new ExchangeEnded());
    };

    const response = this.pool
      .request({
        method: 'POST',
        path: this.basePath + options.path,
        headers: options.headers,
        body: options.body,
        signal: controller.signal,
        // Our own timers govern both; undici's defaults (300 s each) would only interfere.
        headersTimeout: 0,
        bodyTimeout: 0,
      })
      .then(
        (data): UpstreamResponse => {
          clearTimeout(firstByte);
          const body = data.body;
          return {
            status: data.statusCode,
            headers: data.headers,
            body,
            readText: async (limitBytes) => {
              const chunks: Buffer[] = [];
              let size = 0;
              for await (const chunk of body as AsyncIterable<Buffer>) {
                chunks.push(chunk);
                size += chunk.length;
                if (size >= limitBytes) break;
              }
              return Buffer.concat(chunks).subarray(0, limitBytes).toString('utf8');
            },
            endWithin: (ms) => {
              arm(ms, () => new ExchangeEnded());
            },
          };
        },
        (error: unknown) => {
          throw classify(error, controller.signal, options.signal, 'connect');
        },
      );
    return {
      response,
      bodyFailure: (error) => classify(error, controller.signal, options.signal, 'stream'),
      dispose,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * What an error from undici means: the client's own abort is passed through untouched (the caller
 * went away; nobody failed), our timers' reasons are already UpstreamFailures, anything else is a
 * transport failure of the given kind.
 */
function classify(
  error: unknown,
  exchangeSignal: AbortSignal,
  clientSignal: AbortSignal,
  kind: 'connect' | 'stream',
): unknown {
  if (clientSignal.aborted) return clientSignal.reason;
  if (error instanceof UpstreamFailure) return error;
  if (exchangeSignal.aborted && exchangeSignal.reason instanceof UpstreamFailure) {
    return exchangeSignal.reason;
  }
  return new UpstreamFailure(kind, { detail: transportErrorCode(error) });
}
