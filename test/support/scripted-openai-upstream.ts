import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI API whose every chat answer a test scripts from the request it received: a tool
 * call, a JSON document, plain text. The shared fake in fake-upstreams/ answers a fixed sentence;
 * client libraries (openai, the AI SDK, LangChain) need an upstream that plays the model's part in
 * a tool loop, so this one answers what the test says, in OpenAI's exact wire shapes, streamed
 * tool-call arguments split across many chunks by `index` as OpenAI does.
 */

export interface ScriptedToolCall {
  /** Default: `call_<name>_<n>`, stable per request. */
  id?: string;
  name: string;
  /** The JSON text of the arguments, sent as is. */
  arguments: string;
}

export interface ScriptedTurn {
  content?: string;
  toolCalls?: ScriptedToolCall[];
  /** Default: `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
}

export type ChatScript = (body: Record<string, unknown>) => ScriptedTurn;

export interface ScriptedRequest {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface ScriptedOpenAIUpstream {
  /** The base URL, ending in /v1 like OpenAI's. */
  url: string;
  requests: ScriptedRequest[];
  /** The bodies of the chat requests, in arrival order. */
  chatBodies(): Record<string, unknown>[];
  /** The bodies of the embedding requests, in arrival order. */
  embeddingBodies(): Record<string, unknown>[];
  /** How the next chat requests are answered (until set again). */
  script(next: ChatScript): void;
  reset(): void;
  close(): Promise<void>;
}

const CREATED = 1_735_689_600;
/** Streamed argument pieces are this long, so one call's arguments span many chunks. */
const ARGUMENT_PIECE = 4;

/** The vector the fake returns for input `index`: exact in float32, so base64 decodes to it. */
export function scriptedEmbedding(index: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, d) => (index + 1) * 0.5 + d * 0.25);
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function promptTokens(body: Record<string, unknown>): number {
  return words(JSON.stringify(body.messages ?? ''));
}

function toolCallsOf(turn: ScriptedTurn) {
  return (turn.toolCalls ?? []).map((call, index) => ({
    index,
    id: call.id ?? `call_${call.name}_${index}`,
    type: 'function' as const,
    function: { name: call.name, arguments: call.arguments },
  }));
}

function finishOf(turn: ScriptedTurn): string {
  return turn.finishReason ?? (turn.toolCalls?.length ? 'tool_calls' : 'stop');
}

function usageOf(body: Record<string, unknown>, turn: ScriptedTurn) {
  const prompt = promptTokens(body);
  const completion =
    words(turn.content ?? '') + (turn.toolCalls ?? []).reduce((n, c) => n + c.arguments.length, 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: Math.max(1, completion),
    total_tokens: prompt + Math.max(1, completion),
  };
}

function chatJson(body: Record<string, unknown>, turn: ScriptedTurn) {
  const toolCalls = toolCallsOf(turn).map(({ index: _index, ...call }) => call);
  return {
    id: 'chatcmpl-scripted',
    object: 'chat.completion',
    created: CREATED,
    model: body.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: turn.content ?? null,
          refusal: null,
          // OpenAI's own answers carry this; an SDK's tool loop sends the message back with it.
          annotations: [],
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishOf(turn),
      },
    ],
    usage: usageOf(body, turn),
  };
}

/** The SSE data lines of a streamed answer, as OpenAI sends them. */
function chatFrames(body: Record<string, unknown>, turn: ScriptedTurn): string[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({
      id: 'chatcmpl-scripted',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: body.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  const frames = [chunk({ role: 'assistant', content: turn.content === undefined ? null : '' })];
  for (const piece of (turn.content ?? '').match(/\S+\s*/g) ?? []) {
    frames.push(chunk({ content: piece }));
  }
  for (const call of toolCallsOf(turn)) {
    frames.push(
      chunk({
        tool_calls: [
          {
            index: call.index,
            id: call.id,
            type: 'function',
            function: { name: call.function.name, arguments: '' },
          },
        ],
      }),
    );
    const args = call.function.arguments;
    for (let at = 0; at < args.length; at += ARGUMENT_PIECE) {
      frames.push(
        chunk({
          tool_calls: [
            { index: call.index, function: { arguments: args.slice(at, at + ARGUMENT_PIECE) } },
          ],
        }),
      );
    }
  }
  frames.push(chunk({}, finishOf(turn)));
  const options = body.stream_options as { include_usage?: unknown } | undefined;
  if (options?.include_usage === true) {
    frames.push(
      JSON.stringify({
        id: 'chatcmpl-scripted',
        object: 'chat.completion.chunk',
        created: CREATED,
        model: body.model,
        choices: [],
        usage: usageOf(body, turn),
      }),
    );
  }
  frames.push('[DONE]');
  return frames;
}

function embeddingJson(body: Record<string, unknown>) {
  const input = body.input;
  const items: unknown[] = Array.isArray(input) ? input : [input];
  // A token array (numbers) is one input, a list of strings or of token arrays is many.
  const inputs = items.every((item) => typeof item === 'number') ? [items] : items;
  const dimensions = typeof body.dimensions === 'number' ? body.dimensions : 8;
  const base64 = body.encoding_format === 'base64';
  const tokens = inputs.reduce<number>(
    (n, item) => n + (typeof item === 'string' ? words(item) : (item as unknown[]).length),
    0,
  );
  return {
    object: 'list',
    model: body.model,
    data: inputs.map((_, index) => {
      const vector = scriptedEmbedding(index, dimensions);
      return {
        object: 'embedding',
        index,
        embedding: base64
          ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
          : vector,
      };
    }),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

const DEFAULT_SCRIPT: ChatScript = () => ({ content: 'Hello from the scripted upstream.' });

export async function startScriptedOpenAI(
  options: { apiKey?: string } = {},
): Promise<ScriptedOpenAIUpstream> {
  const requests: ScriptedRequest[] = [];
  let script = DEFAULT_SCRIPT;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(400, { error: { message: 'not JSON', type: 'invalid_request_error' } });
      }
      requests.push({ path, authorization: req.headers.authorization, body });
      if (
        options.apiKey !== undefined &&
        req.headers.authorization !== `Bearer ${options.apiKey}`
      ) {
        return send(401, { error: { message: 'bad key', type: 'invalid_request_error' } });
      }
      if (req.method === 'POST' && path === '/v1/embeddings') return send(200, embeddingJson(body));
      if (req.method !== 'POST' || path !== '/v1/chat/completions') {
        return send(404, { error: { message: `no ${path}`, type: 'invalid_request_error' } });
      }
      let turn: ScriptedTurn;
      try {
        turn = script(body);
      } catch (error) {
        return send(500, { error: { message: String(error), type: 'server_error' } });
      }
      if (body.stream !== true) return send(200, chatJson(body, turn));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const frame of chatFrames(body, turn)) res.write(`data: ${frame}\n\n`);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const bodiesAt = (path: string) => requests.filter((r) => r.path === path).map((r) => r.body);

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    chatBodies: () => bodiesAt('/v1/chat/completions'),
    embeddingBodies: () => bodiesAt('/v1/embeddings'),
    script(next) {
      script = next;
    },
    reset() {
      requests.length = 0;
      script = DEFAULT_SCRIPT;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Message = { role?: unknown; content?: unknown };

/** The last message of a chat request. */
export function lastMessage(body: Record<string, unknown>): Message {
  const messages = Array.isArray(body.messages) ? (body.messages as Message[]) : [];
  return messages.at(-1) ?? {};
}

/**
 * A model's part in a one-tool loop: call `name` with `args` while no tool result has come back,
 * then answer with `answer(result)`, the result being the last `tool` message's content.
 */
export function callToolThenAnswer(
  name: string,
  args: unknown,
  answer: (result: string) => string,
): ChatScript {
  return (body) => {
    const last = lastMessage(body);
    if (last.role === 'tool') {
      const content = last.content;
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      return { content: answer(text) };
    }
    return { toolCalls: [{ name, arguments: JSON.stringify(args) }] };
  };
}
