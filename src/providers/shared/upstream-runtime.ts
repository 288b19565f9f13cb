import type { Logger } from '../../domain/logger.js';
import type { GenerationEvent, GenerationRequest, ModelProvider } from '../../domain/ports.js';
import { CircuitBreakers, type CircuitState } from './circuit-breaker.js';
import { UpstreamHttpClient, type UpstreamResponse } from './http-client.js';
import { forwardableHeaders } from './forward-headers.js';
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, parseRetryAfterMs, sleep } from './retry.js';
import type { RetryPolicy } from './retry.js';
import { parseSse, SseOverflowError, type SseEvent } from './sse.js';
import { circuitOpenError, redactForLog, toAppError, UpstreamFailure } from './upstream-errors.js';

/** Options every upstream provider takes. */
export interface UpstreamOptions {
  /** The provider's name in the routing table (also used in logs). */
  name: string;
  baseUrl: string;
  logger: Logger;
  /** Time to open a connection. Default 5 s. */
  connectTimeoutMs?: number;
  /** Time per attempt until the response headers arrive. Default 60 s. */
  firstByteTimeoutMs?: number;
  /** Budget of a whole `generate` call when the request carries no `timeoutMs`. Default 10 min. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 2. */
  maxRetries?: number;
  /** Backoff base and cap, and the longest Retry-After waited for. Defaults 250 ms, 4 s, 5 s. */
  retry?: Partial<Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>>;
  /** Per-model circuit breaker. Defaults: 5 consecutive failures, 30 s cool-down. */
  breaker?: { failureThreshold?: number; cooldownMs?: number };
  /** Clock of the circuit breakers (tests inject one). */
  now?: () => number;
  /** Most sockets open to the upstream at once. Default unlimited. */
  connections?: number;
}

export const UPSTREAM_DEFAULTS = {
  connectTimeoutMs: 5_000,
  firstByteTimeoutMs: 60_000,
  timeoutMs: 600_000,
} as const;

/** Turns the upstream's event stream into generation events; one per attempt. */
export interface StreamTranslator {
  /**
   * The generation events one SSE event carries; a `done` among them marks the response as
   * complete. Throws an UpstreamFailure for an error event or an unreadable one.
   */
  push(event: SseEvent): GenerationEvent[];
  /** The body ended without a terminal event: a `done` if what came suffices, else it throws. */
  end(): GenerationEvent;
}

/** One provider-specific upstream request. */
export interface UpstreamCall {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  createTranslator(): StreamTranslator;
}

/** A request answered with one JSON body (embeddings, a non-streamed completion), not a stream. */
export interface UpstreamJsonCall {
  path: string;
  headers: Record<string, string>;
  /** Already serialised: a pass-through body is forwarded as the client's JSON. */
  body: string;
  /**
   * Throws an UpstreamFailure when a 2xx answer is not what was asked for (an error object, no
   * choices), so that it counts against the upstream and may be retried like a failed status.
   */
  accept?(answer: Record<string, unknown>): void;
}

/** What a JSON call needs of the request: whose breaker, which budget, whose signal. */
export interface UpstreamJsonRequest {
  model: string;
  timeoutMs?: number;
  forwardHeaders?: Record<string, string>;
  signal: AbortSignal;
}

export interface UpstreamRuntime {
  generate(request: GenerationRequest, call: UpstreamCall): AsyncGenerator<GenerationEvent>;
  /**
   * The parsed JSON object of a 2xx answer, with the same timeouts, retries and circuit breaker
   * as `generate`; anything else is the same caller-safe AppError.
   */
  postJson(request: UpstreamJsonRequest, call: UpstreamJsonCall): Promise<Record<string, unknown>>;
  circuitState(model: string): CircuitState;
  circuitStates(): Record<string, CircuitState>;
  close(): Promise<void>;
}

/** Error bodies are read this far, for the log only. */
const ERROR_BODY_LIMIT = 4_096;
/**
 * After the terminal event the rest of the body (normally just the end of the chunked encoding) is
 * read so the socket can be reused; an upstream that keeps it open longer than this loses it.
 */
const DRAIN_GRACE_MS = 1_000;
/** A JSON answer larger than this is refused rather than held in memory (2,048 large vectors fit). */
const JSON_BODY_LIMIT = 256 * 1024 * 1024;

/**
 * The transport behaviour every upstream provider shares: pooled HTTP, timeouts, retries before
 * the first byte, per-model circuit breakers, SSE parsing and safe error reporting. A provider
 * only says what to send (UpstreamCall) and how to read the events (StreamTranslator).
 */
export function createUpstreamRuntime(
  options: UpstreamOptions,
  secrets: readonly string[] = [],
): UpstreamRuntime {
  const http = new UpstreamHttpClient({
    baseUrl: options.baseUrl,
    connectTimeoutMs: options.connectTimeoutMs ?? UPSTREAM_DEFAULTS.connectTimeoutMs,
    ...(options.connections === undefined ? {} : { connections: options.connections }),
  });
  const breakers = new CircuitBreakers({
    ...options.breaker,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    ...options.retry,
    maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
  };
  const firstByteTimeoutMs = options.firstByteTimeoutMs ?? UPSTREAM_DEFAULTS.firstByteTimeoutMs;
  const { logger } = options;

  async function statusFailure(response: UpstreamResponse): Promise<UpstreamFailure> {
    let text = '';
    try {
      text = await response.readText(ERROR_BODY_LIMIT);
    } catch {
      // The status is what matters; an unreadable error body changes nothing.
    }
    return new UpstreamFailure('status', {
      status: response.status,
      retryAfterMs: parseRetryAfterMs(response.headers),
      detail: redactForLog(text, secrets),
    });
  }

  async function* generate(
    request: GenerationRequest,
    call: UpstreamCall,
  ): AsyncGenerator<GenerationEvent> {
    const { signal } = request;
    signal.throwIfAborted();
    const deadline =
      performance.now() + (request.timeoutMs ?? options.timeoutMs ?? UPSTREAM_DEFAULTS.timeoutMs);
    const breaker = breakers.for(request.model);
    const body = JSON.stringify(call.body);
    const headers = {
      ...forwardableHeaders(request.forwardHeaders),
      ...call.headers,
      'content-type': 'application/json',
      accept: 'text/event-stream',
    };

    for (let retries = 0; ; retries += 1) {
      const permit = breaker.tryAcquire();
      if (!permit) {
        logger.debug({ provider: options.name, model: request.model }, 'upstream circuit open');
        throw circuitOpenError();
      }
      const exchange = http.post({
        path: call.path,
        headers,
        body,
        signal,
        firstByteTimeoutMs,
        deadline,
      });
      let output = false;
      let delay: number;
      try {
        const response = await exchange.response;
        if (response.status < 200 || response.status > 299) throw await statusFailure(response);
        const translator = call.createTranslator();
        let done: GenerationEvent | undefined;
        try {
          for await (const event of parseSse(response.body)) {
            // Whatever follows the terminal event is drained, not interpreted.
            if (done) continue;
            for (const generated of translator.push(event)) {
              if (generated.type === 'done') {
                done = generated;
                response.endWithin(DRAIN_GRACE_MS);
                break;
              }
              if (!output) {
                output = true;
                permit.succeed();
              }
              yield generated;
            }
          }
        } catch (error) {
          // A connection cut after the terminal event (or by our drain timer) lost nothing.
          if (!done) throw readFailure(error, exchange.bodyFailure);
        }
        done ??= translator.end();
        permit.succeed();
        yield done;
        return;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!(error instanceof UpstreamFailure)) throw error;
        if (error.countsAgainstUpstream) permit.fail();
        const retryIn =
          output || !error.retryable
            ? undefined
            : nextRetryDelayMs({
                retriesSoFar: retries,
                policy,
                retryAfterMs: error.retryAfterMs,
                remainingMs: deadline - performance.now(),
              });
        logger.warn(
          {
            provider: options.name,
            model: request.model,
            attempt: retries + 1,
            kind: error.kind,
            status: error.status,
            detail: error.detail,
            afterOutput: output,
            retryInMs: retryIn,
          },
          'upstream request failed',
        );
        if (retryIn === undefined) throw toAppError(error, output);
        delay = retryIn;
      } finally {
        permit.release();
        exchange.dispose();
      }
      await sleep(delay, signal);
    }
  }

  async function postJson(
    request: UpstreamJsonRequest,
    call: UpstreamJsonCall,
  ): Promise<Record<string, unknown>> {
    const { signal } = request;
    signal.throwIfAborted();
    const deadline =
      performance.now() + (request.timeoutMs ?? options.timeoutMs ?? UPSTREAM_DEFAULTS.timeoutMs);
    const breaker = breakers.for(request.model);
    const headers = {
      ...forwardableHeaders(request.forwardHeaders),
      ...call.headers,
      'content-type': 'application/json',
      accept: 'application/json',
    };
    for (let retries = 0; ; retries += 1) {
      const permit = breaker.tryAcquire();
      if (!permit) throw circuitOpenError();
      const exchange = http.post({
        path: call.path,
        headers,
        body: call.body,
        signal,
        firstByteTimeoutMs,
        deadline,
      });
      let delay: number;
      try {
        const response = await exchange.response;
        if (response.status < 200 || response.status > 299) throw await statusFailure(response);
        let text: string;
        try {
          text = await readAll(response.body, JSON_BODY_LIMIT);
        } catch (error) {
          throw readFailure(error, exchange.bodyFailure);
        }
        const parsed = parseJsonObject(text);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new UpstreamFailure('malformed', { detail: 'not a JSON object' });
        }
        const answer = parsed as Record<string, unknown>;
        call.accept?.(answer);
        permit.succeed();
        return answer;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!(error instanceof UpstreamFailure)) throw error;
        if (error.countsAgainstUpstream) permit.fail();
        const retryIn = error.retryable
          ? nextRetryDelayMs({
              retriesSoFar: retries,
              policy,
              retryAfterMs: error.retryAfterMs,
              remainingMs: deadline - performance.now(),
            })
          : undefined;
        logger.warn(
          {
            provider: options.name,
            model: request.model,
            attempt: retries + 1,
            kind: error.kind,
            status: error.status,
            detail: error.detail,
            retryInMs: retryIn,
          },
          'upstream request failed',
        );
        if (retryIn === undefined) throw toAppError(error, false);
        delay = retryIn;
      } finally {
        permit.release();
        exchange.dispose();
      }
      await sleep(delay, signal);
    }
  }

  return {
    generate,
    postJson,
    circuitState: (model) => breakers.for(model).state(),
    circuitStates: () => breakers.states(),
    close: () => http.close(),
  };
}

function parseJsonObject(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The whole body as text, refused past `limitBytes`. */
async function readAll(body: AsyncIterable<Uint8Array>, limitBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limitBytes) {
      throw new UpstreamFailure('malformed', { detail: `body over ${limitBytes} bytes` });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readFailure(error: unknown, bodyFailure: (error: unknown) => unknown): unknown {
  if (error instanceof UpstreamFailure) return error;
  if (error instanceof SseOverflowError) {
    return new UpstreamFailure('malformed', { detail: error.message });
  }
  return bodyFailure(error);
}

/** A ModelProvider backed by an HTTP upstream, with its circuit states exposed for metrics. */
export interface UpstreamModelProvider extends ModelProvider {
  circuitState(model: string): CircuitState;
  circuitStates(): Record<string, CircuitState>;
}
