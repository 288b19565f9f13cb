import type { GenerationEvent, TokenUsage } from '../../../domain/ports.js';
import type { components } from '../../../generated/openapi.js';
import { relayedAsOurs, type AnswerIdentity } from './relayed-body.js';
import { sseFrame, type FrameRenderer } from './sse.js';
import { usageBody } from './usage-body.js';

type ChatCompletionChunk = components['schemas']['ChatCompletionChunk'];
type Delta = components['schemas']['ChatCompletionChunkDelta'];
type ChunkChoice = ChatCompletionChunk['choices'][number];

/**
 * Canonical events in OpenAI's streamed chat dialect: the first delta carries `role`; text is
 * `content`, a refusal `refusal`, a tool call's pieces `tool_calls[{index, …}]` with `id`, `type`
 * and `function.name` only on the call's first piece (as OpenAI sends them); `done` is an empty
 * delta with `finish_reason`, then the usage chunk when asked for (OpenAI then also sends
 * `usage: null` on every other chunk). Relayed chunks are the upstream's, written as they came
 * but for their identity; the upstream's own last chunks end such a stream.
 */
export function chatChunkRenderer(identity: AnswerIdentity, includeUsage: boolean): FrameRenderer {
  let started = false;
  let relayed = false;
  const calls = new Set<number>();

  const chunk = (choices: ChunkChoice[], usage?: TokenUsage): string => {
    const body: ChatCompletionChunk = {
      id: identity.id,
      object: 'chat.completion.chunk',
      created: identity.created,
      model: identity.model,
      choices,
      ...(includeUsage ? { usage: usage === undefined ? null : usageBody(usage) } : {}),
    };
    return sseFrame(body);
  };
  /** The delta of a piece of the answer; the first one opens the assistant message. */
  const piece = (delta: Delta, opening: Delta): string => {
    const first = !started;
    started = true;
    const choice: ChunkChoice = {
      index: 0,
      delta: first ? { role: 'assistant', ...opening, ...delta } : delta,
      logprobs: null,
      finish_reason: null,
    };
    return chunk([choice]);
  };

  return (event: GenerationEvent): string[] => {
    switch (event.type) {
      case 'text':
        return [piece({ content: event.text }, {})];
      case 'refusal':
        return [piece({ refusal: event.text }, { content: null })];
      case 'toolCall': {
        const opensCall = !calls.has(event.index);
        calls.add(event.index);
        const call = opensCall
          ? {
              index: event.index,
              ...(event.id === undefined ? {} : { id: event.id }),
              type: 'function' as const,
              function: {
                ...(event.name === undefined ? {} : { name: event.name }),
                arguments: event.arguments,
              },
            }
          : { index: event.index, function: { arguments: event.arguments } };
        return [piece({ tool_calls: [call] }, { content: null })];
      }
      case 'relay':
        relayed = true;
        return [sseFrame(relayedAsOurs(event.data, identity))];
      case 'done': {
        if (relayed) return [];
        const opening = started ? [] : [piece({ content: '' }, {})];
        const finish: ChunkChoice = {
          index: 0,
          delta: {},
          logprobs: null,
          finish_reason: event.finishReason,
        };
        return [...opening, chunk([finish]), ...(includeUsage ? [chunk([], event.usage)] : [])];
      }
    }
  };
}
