import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FakeMode, replyPieces } from './modes.js';

/** Everything a fake upstream saw of one request and how its answer went. */
export interface RecordedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The client's port: equal for two requests when the client reused its connection. */
  remotePort: number | undefined;
  /** The parsed JSON body (undefined when it was not JSON). */
  body: Record<string, unknown> | undefined;
  rawBody: string;
  /** The mode that applied. */
  mode: FakeMode;
  /** The status sent, once headers went out. */
  status: number | undefined;
  /** Content chunks the reply was to have, and how many were handed to the socket. */
  chunksPlanned: number;
  chunksWritten: number;
  /** Response body bytes handed to `res.write`. */
  bytesWritten: number;
  /** Times `res.write` returned false (the client was not reading fast enough). */
  writesBlocked: number;
  /** The response was completely sent. */
  finished: boolean;
  /** The client closed the connection before the response was complete. */
  abortedByClient: boolean;
  /** We cut the connection on purpose (`dropAfterChunks`). */
  droppedByServer: boolean;
  /** Resolves when the response is over: finished, aborted or dropped. */
  closed: Promise<void>;
}

/** What a dialect (OpenAI, Anthropic) needs to know about a parsed request. */
export interface ReplyContext {
  record: RecordedRequest;
  body: Record<string, unknown>;
  model: string;
  /** Deterministic prompt size: words in the prompt. */
  promptTokens: number;
  pieces: string[];
  finish: 'stop' | 'length';
  includeUsage: boolean;
  /** Filler to add to every chunk. */
  padding: string;
}

/** How one API shape is spoken; the server handles modes, recording and flow control. */
export interface Dialect {
  /** Which endpoint a request is for, or undefined for a 404. */
  endpoint(method: string, path: string): string | undefined;
  /** Whether the credentials are right (called only when the server was given an API key). */
  authorized(headers: IncomingHttpHeaders, apiKey: string): boolean;
  /** A non-POST answer (e.g. the model list), or undefined. */
  get?(path: string): unknown;
  promptText(endpoint: string, body: Record<string, unknown>): string;
  maxTokens(body: Record<string, unknown>): number | undefined;
  wantsUsage(body: Record<string, unknown>): boolean;
  errorBody(status: number): unknown;
  /** SSE frames (without their terminating blank line) before the content. */
  streamStart(endpoint: string, ctx: ReplyContext): string[];
  streamChunk(endpoint: string, ctx: ReplyContext, piece: string): string;
  /**
   * The content frames of a streamed answer, when they are not one `streamChunk` per reply piece
   * (e.g. tool-call deltas); each counts as a content chunk for the modes. Built lazily by index.
   */
  contentFrames?(
    endpoint: string,
    ctx: ReplyContext,
  ): { count: number; frame(index: number): string } | undefined;
  streamEnd(endpoint: string, ctx: ReplyContext): string[];
  streamError(endpoint: string, ctx: ReplyContext): string;
  json(endpoint: string, ctx: ReplyContext): unknown;
}

export interface FakeServerOptions {
  /** Require this key (Authorization: Bearer for OpenAI, x-api-key for Anthropic). */
  apiKey?: string;
  /** The mode for requests that match no other rule. */
  mode?: FakeMode;
}

export interface FakeUpstream {
  /** The base URL a provider is configured with. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /**
   * Sets the mode of later requests: of all of them, or only of those for one model. A request can
   * also choose its own with an `x-fake-mode: <json>` header; queued one-shot modes come next.
   */
  setMode(mode: FakeMode, scope?: { model?: string }): void;
  /** Modes for the next requests, one each, before any other rule but the header. */
  queueModes(...modes: FakeMode[]): void;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Forgets recorded requests and modes. */
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a fake upstream speaking `dialect` on 127.0.0.1 at a free port. */
export async function startFakeServer(
  dialect: Dialect,
  basePath: string,
  options: FakeServerOptions = {},
): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  let defaultMode: FakeMode = options.mode ?? {};
  const modelModes = new Map<string, FakeMode>();
  let queued: FakeMode[] = [];
  // `fail.times` counts per mode object, so a mode set once fails its first N requests.
  const failuresLeft = new WeakMap<FakeMode, number>();
  const waiters = new Set<() => void>();

  function chooseMode(req: IncomingMessage, model: string): FakeMode {
    const header = req.headers['x-fake-mode'];
    if (typeof header === 'string') return (parseJson(header) ?? {}) as FakeMode;
    const next = queued.shift();
    if (next) return next;
    return modelModes.get(model) ?? defaultMode;
  }

  function shouldFail(mode: FakeMode): boolean {
    if (!mode.fail) return false;
    const left = failuresLeft.get(mode) ?? mode.fail.times ?? Number.POSITIVE_INFINITY;
    if (left <= 0) return false;
    failuresLeft.set(mode, left - 1);
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const body = parseJson(rawBody);
    const path = (req.url ?? '/').split('?')[0] as string;
    const model = typeof body?.model === 'string' ? body.model : '';
    const mode = chooseMode(req, model);
    let resolveClosed!: () => void;
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      remotePort: req.socket.remotePort,
      body,
      rawBody,
      mode,
      status: undefined,
      chunksPlanned: 0,
      chunksWritten: 0,
      bytesWritten: 0,
      writesBlocked: 0,
      finished: false,
      abortedByClient: false,
      droppedByServer: false,
      closed: new Promise((resolve) => (resolveClosed = resolve)),
    };
    requests.push(record);
    for (const wake of waiters) wake();
    let connectionClosed = false;
    res.on('close', () => {
      connectionClosed = true;
      record.finished = res.writableFinished;
      record.abortedByClient = !res.writableFinished && !record.droppedByServer;
      resolveClosed();
    });
    const isOpen = (): boolean => !connectionClosed && !res.writableEnded;

    const sendJson = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };

    if (req.method === 'GET' && dialect.get) {
      const answer = dialect.get(path);
      if (answer !== undefined) return sendJson(200, answer);
    }
    const endpoint = dialect.endpoint(req.method ?? 'GET', path);
    if (endpoint === undefined) return sendJson(404, dialect.errorBody(404));
    if (options.apiKey !== undefined && !dialect.authorized(req.headers, options.apiKey)) {
      return sendJson(401, dialect.errorBody(401));
    }
    if (!body) return sendJson(400, dialect.errorBody(400));

    if (mode.hang) return; // `res` stays open until the client or close() ends it.
    if (mode.firstByteDelayMs) await sleep(mode.firstByteDelayMs);
    if (!isOpen()) return;
    if (shouldFail(mode)) {
      const fail = mode.fail as NonNullable<FakeMode['fail']>;
      const headers: Record<string, string> = {};
      if (fail.retryAfter !== undefined) headers['retry-after'] = fail.retryAfter;
      if (fail.retryAfterMs !== undefined) headers['retry-after-ms'] = fail.retryAfterMs;
      return sendJson(fail.status, dialect.errorBody(fail.status), headers);
    }

    const maxTokens = dialect.maxTokens(body);
    const full = replyPieces(mode, undefined);
    const pieces = replyPieces(mode, maxTokens);
    const ctx: ReplyContext = {
      record,
      body,
      model,
      promptTokens: dialect.promptText(endpoint, body).split(/\s+/).filter(Boolean).length,
      pieces,
      finish: pieces.length < full.length ? 'length' : 'stop',
      includeUsage: mode.includeUsage !== false && dialect.wantsUsage(body),
      padding: mode.padBytes ? 'x'.repeat(mode.padBytes) : '',
    };
    if (body.stream !== true) {
      record.chunksPlanned = pieces.length;
      return sendJson(200, dialect.json(endpoint, ctx));
    }
    const frames = dialect.contentFrames?.(endpoint, ctx) ?? {
      count: pieces.length,
      frame: (index: number) => dialect.streamChunk(endpoint, ctx, pieces[index] as string),
    };
    record.chunksPlanned = frames.count;

    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
    });
    const newline = mode.crlf ? '\r\n' : '\n';
    // Waits for the socket to take more whenever it is full: this is what lets a test see that
    // the client stopped reading.
    const send = async (frame: string): Promise<boolean> => {
      if (!isOpen()) return false;
      const text = frame.split('\n').join(newline) + newline + newline;
      record.bytesWritten += Buffer.byteLength(text);
      if (!res.write(text)) {
        record.writesBlocked += 1;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      return isOpen();
    };

    for (const frame of dialect.streamStart(endpoint, ctx)) {
      if (!(await send(frame))) return;
    }
    for (let index = 0; index < frames.count; index += 1) {
      if (record.chunksWritten === mode.dropAfterChunks) {
        // A pause first, so that the client has read the chunks before the connection breaks
        // (a client that reads data and the break together may discard the data).
        await sleep(mode.chunkDelayMs ?? 50);
        record.droppedByServer = true;
        res.socket?.destroy();
        return;
      }
      if (record.chunksWritten === mode.errorEventAfterChunks) {
        await send(dialect.streamError(endpoint, ctx));
        res.end();
        return;
      }
      if (mode.chunkDelayMs && record.chunksWritten > 0) await sleep(mode.chunkDelayMs);
      if (!(await send(frames.frame(index)))) return;
      record.chunksWritten += 1;
    }
    for (const frame of dialect.streamEnd(endpoint, ctx)) {
      if (!(await send(frame))) return;
    }
    res.end();
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    requests,
    setMode(mode, scope = {}) {
      if (scope.model === undefined) defaultMode = mode;
      else modelModes.set(scope.model, mode);
    },
    queueModes(...modes) {
      queued.push(...modes);
    },
    async waitForRequests(count, timeoutMs = 5_000) {
      const started = Date.now();
      while (requests.length < count) {
        if (Date.now() - started > timeoutMs) {
          throw new Error(`expected ${count} requests, got ${requests.length}`);
        }
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, 50);
          waiters.add(wake);
        });
      }
    },
    reset() {
      requests.length = 0;
      defaultMode = options.mode ?? {};
      modelModes.clear();
      queued = [];
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
