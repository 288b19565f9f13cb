import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { GenerationEvent } from '../../ports.js';
import type { Answer, AssembledToolCall } from './types.js';

interface PartialCall {
  id?: string;
  name?: string;
  arguments: string;
}

/**
 * One answer from a generation's events, for a client that did not stream: text pieces joined,
 * tool call pieces merged by `index` (arguments concatenated), refusal pieces joined, and a
 * non-streamed relayed `chat.completion` kept whole. Throws when the events end without `done`.
 */
export async function assembleAnswer(events: AsyncIterable<GenerationEvent>): Promise<Answer> {
  let text = '';
  let refusal: string | undefined;
  let relayed: Record<string, unknown> | undefined;
  const calls = new Map<number, PartialCall>();
  const addCall = (index: number, piece: { id?: string; name?: string; arguments?: string }) => {
    const call = calls.get(index) ?? { arguments: '' };
    call.id ??= piece.id;
    call.name ??= piece.name;
    call.arguments += piece.arguments ?? '';
    calls.set(index, call);
  };
  for await (const event of events) {
    switch (event.type) {
      case 'text':
        text += event.text;
        break;
      case 'toolCall':
        addCall(event.index, event);
        break;
      case 'refusal':
        refusal = (refusal ?? '') + event.text;
        break;
      case 'relay':
        if (event.data.object === 'chat.completion.chunk') {
          const delta = chunkDelta(event.data);
          text += delta.content ?? '';
          if (delta.refusal != null) refusal = (refusal ?? '') + delta.refusal;
          for (const call of delta.tool_calls ?? []) {
            addCall(call.index, { ...call, ...call.function });
          }
        } else {
          relayed = event.data;
          text += event.text;
        }
        break;
      case 'done':
        return {
          text,
          ...(calls.size === 0 ? {} : { toolCalls: toolCallsOf(calls) }),
          ...(refusal === undefined ? {} : { refusal }),
          ...(relayed === undefined ? {} : { relayed }),
          finishReason: event.finishReason,
          usage: event.usage,
        };
    }
  }
  // The stream ends without `done` only when the client went away.
  throw new AppError('INTERNAL_ERROR', { message: 'Generation ended early' });
}

function toolCallsOf(calls: Map<number, PartialCall>): AssembledToolCall[] {
  return [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, call]) => {
      if (call.name === undefined) {
        throw new AppError('UPSTREAM_ERROR', {
          message: 'The model sent a tool call without a name',
        });
      }
      return {
        // Every piece may lack an id only from a provider that makes none; the client needs one.
        id: call.id ?? `call_${randomBytes(12).toString('base64url')}`,
        name: call.name,
        arguments: call.arguments,
      };
    });
}

interface ChunkDelta {
  content?: string | null;
  refusal?: string | null;
  tool_calls?: {
    index: number;
    id?: string;
    function?: { name?: string; arguments?: string };
  }[];
}

const ASSEMBLED_DELTA_KEYS = new Set(['role', 'content', 'refusal', 'tool_calls']);

/**
 * A relayed chunk's single choice. A non-streaming client is not normally sent chunks (the
 * upstream is asked not to stream); when one comes anyway, what it carries beyond text, refusal
 * and tool calls — more choices, log probabilities, audio — cannot be assembled faithfully here,
 * so it is an error rather than an answer with parts missing.
 */
function chunkDelta(data: Record<string, unknown>): ChunkDelta {
  const choices = Array.isArray(data.choices) ? (data.choices as Record<string, unknown>[]) : [];
  if (choices.length === 0) return {};
  const [choice] = choices;
  const delta = (choice?.delta ?? {}) as Record<string, unknown>;
  const extra = Object.entries(delta).find(
    ([key, value]) => value != null && !ASSEMBLED_DELTA_KEYS.has(key),
  );
  if (choices.length > 1 || choice?.index !== 0 || choice.logprobs != null || extra) {
    throw new AppError('INTERNAL_ERROR', {
      message: 'A streamed answer carrying more than text and tool calls cannot be assembled',
    });
  }
  return delta as ChunkDelta;
}
