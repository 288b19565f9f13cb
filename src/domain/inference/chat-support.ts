import { AppError } from '../errors.js';
import type { ChatCompletionBody } from './chat-request.js';

/**
 * What a provider can honour of a chat request: `all` when it speaks the Chat Completions dialect
 * itself (the request is forwarded as sent), else the top-level fields and content part types it
 * translates. Anything else the request asks for is refused by name, never dropped.
 */
export type ChatSupport =
  | { kind: 'all' }
  | { kind: 'fields'; fields: ReadonlySet<string>; contentParts: ReadonlySet<string> };

/**
 * What every provider honours: the conversation as text, the token limit, temperature, top_p and
 * stop sequences; `user`, `safety_identifier`, `metadata` and `prompt_cache_key` only attribute
 * or route a request and change nothing the model does, so they are harmless everywhere.
 */
export const PLAIN_CHAT_FIELDS: readonly string[] = [
  'model',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stream',
  'stream_options',
  'stop',
  'user',
  'safety_identifier',
  'metadata',
  'prompt_cache_key',
];

export function plainChatSupport(extra: readonly string[] = []): ChatSupport {
  return {
    kind: 'fields',
    fields: new Set([...PLAIN_CHAT_FIELDS, ...extra]),
    contentParts: new Set(['text']),
  };
}

/** Values that ask for nothing beyond a plain answer, so any provider honours them. */
function asksForNothing(field: string, value: unknown, body: ChatCompletionBody): boolean {
  if (value === null) return true;
  switch (field) {
    case 'n':
      return value === 1;
    case 'logprobs':
    case 'store':
      return value === false;
    case 'presence_penalty':
    case 'frequency_penalty':
      return value === 0;
    case 'logit_bias':
      return typeof value === 'object' && Object.keys(value).length === 0;
    case 'response_format':
      return (value as { type?: unknown }).type === 'text';
    case 'modalities':
      return Array.isArray(value) && value.every((modality) => modality === 'text');
    case 'tool_choice':
      return value === 'none' && body.tools === undefined;
    case 'parallel_tool_calls':
      return body.tools === undefined;
    default:
      return false;
  }
}

/** The first part of `body` that `support` cannot honour, as a field path and a label. */
export function unsupportedChatField(
  body: ChatCompletionBody,
  support: ChatSupport,
): { field: string; label: string } | undefined {
  if (support.kind === 'all') return undefined;
  for (const [field, value] of Object.entries(body)) {
    if (value === undefined || support.fields.has(field)) continue;
    if (!asksForNothing(field, value, body)) return { field, label: field };
  }
  for (const [index, message] of body.messages.entries()) {
    const at = `messages[${index}]`;
    // A provider that honours `tools` honours the turns of a tool loop too.
    const loop = support.fields.has('tools');
    for (const field of ['tool_calls', 'function_call', 'audio', 'refusal'] as const) {
      if (field === 'tool_calls' && loop) continue;
      if (message[field] != null) return { field: `${at}.${field}`, label: field };
    }
    if (message.role === 'tool' && !loop) {
      return { field: `${at}.role`, label: 'A tool message' };
    }
    if (!Array.isArray(message.content)) continue;
    for (const [part, content] of message.content.entries()) {
      if (!support.contentParts.has(content.type)) {
        return { field: `${at}.content[${part}]`, label: `${content.type} content` };
      }
    }
  }
  return undefined;
}

/** A 422 naming the field and the model, the same for every provider. */
export function unsupportedFieldError(
  unsupported: { field: string; label: string },
  model: string,
): AppError {
  const message = `${unsupported.label} is not supported by model ${model}`;
  return new AppError('VALIDATION_ERROR', {
    message,
    param: unsupported.field,
    details: [{ field: unsupported.field, issue: message }],
  });
}
