import { AppError } from '../../../src/domain/errors.js';
import {
  type ChatCompletionBody,
  contentText,
} from '../../../src/domain/inference/chat-request.js';
import type { Logger } from '../../../src/domain/logger.js';
import type {
  ChatMessage,
  GenerationEvent,
  GenerationRequest,
  TokenUsage,
} from '../../../src/domain/ports.js';

export function chatRequest(
  messages: ChatMessage[] = [{ role: 'user', content: 'Say something nice' }],
  overrides: Partial<Omit<GenerationRequest, 'input'>> = {},
): GenerationRequest {
  return {
    model: 'fake-model',
    input: { kind: 'chat', messages },
    maxTokens: 64,
    temperature: 0.5,
    topP: 1,
    stop: [],
    signal: new AbortController().signal,
    ...overrides,
  };
}

/**
 * A request carrying a client's Chat Completions body, with `input` and the plain fields derived
 * from it as the HTTP edge derives them.
 */
export function chatBodyRequest(
  body: { messages: ChatCompletionBody['messages']; [field: string]: unknown },
  overrides: Partial<Omit<GenerationRequest, 'input' | 'chat'>> = {},
): GenerationRequest {
  const chat = { model: 'public-model', ...body } as ChatCompletionBody;
  const messages: ChatMessage[] = chat.messages.map((message) => ({
    role: message.role,
    content: contentText(message.content),
  }));
  return { ...chatRequest(messages, overrides), chat };
}

type ToolCallEvent = Extract<GenerationEvent, { type: 'toolCall' }>;
type RelayEvent = Extract<GenerationEvent, { type: 'relay' }>;

export interface Collected {
  texts: string[];
  toolCalls: ToolCallEvent[];
  refusals: string[];
  /** The `data` of each `relay` event; `relayEvents` has the events whole. */
  relays: Record<string, unknown>[];
  relayEvents: RelayEvent[];
  done: { finishReason: string; usage: TokenUsage } | undefined;
  error: unknown;
}

/** Runs a generation to its end (or its error) and checks the event contract on the way. */
export async function collect(events: AsyncIterable<GenerationEvent>): Promise<Collected> {
  const result: Collected = {
    texts: [],
    toolCalls: [],
    refusals: [],
    relays: [],
    relayEvents: [],
    done: undefined,
    error: undefined,
  };
  try {
    for await (const event of events) {
      if (result.done) throw new Error('event after done');
      if (event.type === 'text') result.texts.push(event.text);
      else if (event.type === 'refusal') result.refusals.push(event.text);
      else if (event.type === 'toolCall') result.toolCalls.push(event);
      else if (event.type === 'relay') {
        result.relays.push(event.data);
        result.relayEvents.push(event);
      } else result.done = { finishReason: event.finishReason, usage: event.usage };
    }
  } catch (error) {
    result.error = error;
  }
  return result;
}

export function expectAppError(error: unknown, code: string): AppError {
  if (!(error instanceof AppError))
    throw new Error(`expected AppError ${code}, got ${String(error)}`);
  if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}

export interface RecordingLogger extends Logger {
  entries: Array<{ level: string; obj: object; msg: string | undefined }>;
}

export function recordingLogger(): RecordingLogger {
  const entries: RecordingLogger['entries'] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Rejects if `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms),
    ),
  ]);
}
