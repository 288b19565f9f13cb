import type { FinishReason, TokenUsage } from '../../../domain/ports.js';
import type { components } from '../../../generated/openapi.js';
import { relayedAsOurs, type AnswerIdentity } from './relayed-body.js';
import { usageBody } from './usage-body.js';

export type ChatCompletion = components['schemas']['ChatCompletion'];
type AssistantMessage = components['schemas']['AssistantMessage'];

/** What a finished chat generation holds (CompletionService's CompletedGeneration). */
export interface ChatAnswer extends AnswerIdentity {
  text: string;
  finishReason: FinishReason;
  usage: TokenUsage;
  toolCalls?: { id: string; name: string; arguments: string }[];
  refusal?: string;
  /** The upstream's whole `chat.completion`, when it answered in the client's own dialect. */
  relayed?: Record<string, unknown>;
}

/**
 * A non-streamed chat completion. A relayed answer is the upstream's body but for its identity;
 * otherwise the message is built as OpenAI builds it: `content` null when the model only called
 * tools or refused, `refusal` null when it did not refuse, `tool_calls` only when it called one.
 */
export function chatCompletionBody(answer: ChatAnswer): ChatCompletion {
  if (answer.relayed) return relayedAsOurs(answer.relayed, answer) as ChatCompletion;
  const toolCalls = answer.toolCalls ?? [];
  const answeredOtherwise = toolCalls.length > 0 || answer.refusal !== undefined;
  const message: AssistantMessage = {
    role: 'assistant',
    content: answer.text === '' && answeredOtherwise ? null : answer.text,
    refusal: answer.refusal ?? null,
    ...(toolCalls.length === 0
      ? {}
      : {
          tool_calls: toolCalls.map((call) => ({
            id: call.id,
            type: 'function' as const,
            function: { name: call.name, arguments: call.arguments },
          })),
        }),
  };
  return {
    id: answer.id,
    object: 'chat.completion',
    created: answer.created,
    model: answer.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: answer.finishReason }],
    usage: usageBody(answer.usage),
  };
}
