import { AppError } from '../errors.js';
import type { RouteCapabilities } from './capabilities.js';
import type { ChatCompletionBody } from './chat-request.js';

/**
 * The first part of a chat request that the route's declared capabilities rule out, as a field
 * path and a label (see unsupportedFieldError). An unset capability rules nothing out: what the
 * provider honours is checked separately.
 */
export function beyondCapabilities(
  capabilities: RouteCapabilities,
  body: ChatCompletionBody,
): { field: string; label: string } | undefined {
  if (capabilities.tools === false) {
    for (const field of ['tools', 'functions'] as const) {
      if (body[field] != null) return { field, label: field };
    }
    for (const [index, message] of body.messages.entries()) {
      const at = `messages[${index}]`;
      if (message.tool_calls != null) return { field: `${at}.tool_calls`, label: 'tool_calls' };
      if (message.role === 'tool') return { field: `${at}.role`, label: 'A tool message' };
    }
  }
  if (capabilities.vision === false) {
    for (const [index, message] of body.messages.entries()) {
      if (!Array.isArray(message.content)) continue;
      const part = message.content.findIndex((content) => content.type === 'image_url');
      if (part >= 0) {
        return { field: `messages[${index}].content[${part}]`, label: 'image_url content' };
      }
    }
  }
  const format = body.response_format as { type?: unknown } | null | undefined;
  if (capabilities.jsonSchema === false && format?.type === 'json_schema') {
    return { field: 'response_format', label: 'response_format json_schema' };
  }
  return undefined;
}

/**
 * A 422 naming `field` and the window when the prompt plus the tokens asked for exceed the
 * route's declared context window; nothing is checked when none is declared.
 */
export function refuseOverContextWindow(
  capabilities: RouteCapabilities,
  model: string,
  field: 'messages' | 'prompt',
  neededTokens: number,
): void {
  const window = capabilities.contextWindow;
  if (window === undefined || neededTokens <= window) return;
  const message =
    `This request needs about ${neededTokens} tokens (prompt plus max tokens), more than the ` +
    `${window}-token context window of model ${model}`;
  throw new AppError('VALIDATION_ERROR', {
    message,
    param: field,
    details: [{ field, issue: message }],
  });
}
