import type { ChatCompletionBody } from '../../domain/inference/chat-request.js';

export interface ForwardedChat {
  /** The client's body with `model` rewritten and, on a stream, usage asked for. */
  body: Record<string, unknown>;
  stream: boolean;
  /** Whether the client itself asked for the usage chunk (else it is ours to strip). */
  clientWantsUsage: boolean;
}

/**
 * The upstream request for a client's Chat Completions body. The body is the client's: every
 * field (tools, parts, response_format, logprobs, fields added to OpenAI's API tomorrow) goes as
 * sent, and the gateway puts nothing of its own in it (its controls are headers), so the only
 * changes are the upstream's model name and, on a stream, `include_usage`, which metering needs.
 */
export function forwardedChat(chat: ChatCompletionBody, upstreamModel: string): ForwardedChat {
  const stream = chat.stream === true;
  const clientWantsUsage = stream && chat.stream_options?.include_usage === true;
  const body: Record<string, unknown> = { ...chat, model: upstreamModel };
  if (stream && !clientWantsUsage) {
    body.stream_options = { ...chat.stream_options, include_usage: true };
  }
  return { body, stream, clientWantsUsage };
}
