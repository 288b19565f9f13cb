import type { FinishReason, GenerationEvent, TokenUsage } from '../../../domain/ports.js';
import type { components } from '../../../generated/openapi.js';
import { relayedAsOurs, type AnswerIdentity } from './relayed-body.js';
import { sseFrame, type FrameRenderer } from './sse.js';
import { usageBody } from './usage-body.js';

type Completion = components['schemas']['Completion'];
type CompletionChunk = components['schemas']['CompletionChunk'];

/** The parts of a finished generation a text completion shows. */
export interface TextAnswer extends AnswerIdentity {
  text: string;
  finishReason: FinishReason;
  usage: TokenUsage;
}

export function completionBody(answer: TextAnswer): Completion {
  return {
    id: answer.id,
    object: 'text_completion',
    created: answer.created,
    model: answer.model,
    choices: [{ index: 0, text: answer.text, finish_reason: answer.finishReason, logprobs: null }],
    usage: usageBody(answer.usage),
  };
}

/**
 * A streamed text completion: a chunk per text piece, a final chunk with `finish_reason`, then
 * the usage chunk when asked for; relayed chunks as they came, their own last chunks included.
 * A request without `chat` yields no tool calls or refusals.
 */
export function completionChunkRenderer(
  identity: AnswerIdentity,
  includeUsage: boolean,
): FrameRenderer {
  const chunk = (choices: CompletionChunk['choices'], usage?: TokenUsage): string => {
    const body: CompletionChunk = {
      id: identity.id,
      object: 'text_completion',
      created: identity.created,
      model: identity.model,
      choices,
      ...(usage === undefined ? {} : { usage: usageBody(usage) }),
    };
    return sseFrame(body);
  };
  let relayed = false;
  return (event: GenerationEvent): string[] => {
    switch (event.type) {
      case 'text':
        return [chunk([{ index: 0, text: event.text, finish_reason: null, logprobs: null }])];
      case 'relay':
        relayed = true;
        return [sseFrame(relayedAsOurs(event.data, identity))];
      case 'done':
        if (relayed) return [];
        return [
          chunk([{ index: 0, text: '', finish_reason: event.finishReason, logprobs: null }]),
          ...(includeUsage ? [chunk([], event.usage)] : []),
        ];
      default:
        return [];
    }
  };
}
