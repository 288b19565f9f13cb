import type { ChatCompletionBody } from './chat-request.js';

/**
 * Fields whose answer the response cache can hold: it keeps text, a finish reason and usage, so a
 * request that may be answered with tool calls, several choices, log probabilities or audio is
 * never served from it. Streaming fields only change the framing, not the answer.
 */
const CACHE_SAFE_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stop',
  'seed',
  'stream',
  'stream_options',
  'user',
  'safety_identifier',
  'metadata',
  'prompt_cache_key',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'response_format',
  'reasoning_effort',
  'verbosity',
  'store',
]);

const FRAMING_FIELDS = new Set(['stream', 'stream_options']);

/**
 * What a chat request's cache key must cover — every field that can change the answer, exactly as
 * sent — or null when its answer is not one the cache can hold.
 */
export function chatCacheKeyPart(body: ChatCompletionBody): Record<string, unknown> | null {
  const part: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (value === undefined || FRAMING_FIELDS.has(field)) continue;
    if (!CACHE_SAFE_FIELDS.has(field)) return null;
    part[field] = value;
  }
  return part;
}
