import {
  contentText,
  type ChatCompletionBody,
  type ChatRequestMessage,
} from '../../../src/domain/inference/chat-request.js';
import type { GenerationEvent, GenerationRequest } from '../../../src/domain/ports.js';

/** A provider request for a chat body, as the HTTP edge makes it (text input, body as `chat`). */
export function chatBody(
  body: { messages: ChatRequestMessage[]; [field: string]: unknown },
  overrides: Partial<GenerationRequest> = {},
): GenerationRequest {
  const chat: ChatCompletionBody = { model: 'claude-public', ...body };
  return {
    model: 'claude-test',
    input: {
      kind: 'chat',
      messages: chat.messages.map((message) => ({
        role: message.role,
        content: contentText(message.content),
      })),
    },
    maxTokens: 64,
    temperature: 0.5,
    topP: 1,
    stop: [],
    chat,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Every event of a generation, in order; throws what the generation threw. */
export async function allEvents(
  events: AsyncIterable<GenerationEvent>,
): Promise<GenerationEvent[]> {
  const seen: GenerationEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

/** The tool calls of `events`, merged by index as a client would. */
export function mergedCalls(
  events: GenerationEvent[],
): { index: number; id?: string; name?: string; arguments: string; pieces: number }[] {
  const calls: { index: number; id?: string; name?: string; arguments: string; pieces: number }[] =
    [];
  for (const event of events) {
    if (event.type !== 'toolCall') continue;
    let call = calls[event.index];
    if (!call) {
      call = { index: event.index, arguments: '', pieces: 0 };
      calls[event.index] = call;
    }
    if (event.id !== undefined) call.id = event.id;
    if (event.name !== undefined) call.name = event.name;
    call.arguments += event.arguments;
    call.pieces += 1;
  }
  return calls;
}

export function textOf(events: GenerationEvent[]): string {
  return events.map((event) => (event.type === 'text' ? event.text : '')).join('');
}

export function doneOf(events: GenerationEvent[]): Extract<GenerationEvent, { type: 'done' }> {
  const last = events[events.length - 1];
  if (last?.type !== 'done') throw new Error('generation did not end with done');
  return last;
}
