import { validationError } from '../errors.js';
import type { ChatCompletionBody } from './chat-request.js';

/**
 * What the schema cannot say about a chat request: rules that relate one field to another. Each
 * failure is a 422 naming the field, found before anything is reserved or sent.
 */
export function checkChatRequest(body: ChatCompletionBody): void {
  const calls = new Set<string>();
  for (const [index, message] of body.messages.entries()) {
    const at = `messages[${index}]`;
    if (message.tool_calls !== undefined && message.role !== 'assistant') {
      throw validationError(`${at}.tool_calls`, 'Only an assistant message may carry tool_calls');
    }
    if (message.content === '' && message.role !== 'assistant') {
      throw validationError(`${at}.content`, 'Must not be empty');
    }
    if (message.annotations !== undefined && message.role !== 'assistant') {
      throw validationError(`${at}.annotations`, 'Only an assistant message may carry annotations');
    }
    if (message.tool_call_id !== undefined && message.role !== 'tool') {
      throw validationError(`${at}.tool_call_id`, 'Only a tool message may carry tool_call_id');
    }
    const answersWithoutText =
      message.role === 'assistant' &&
      (message.tool_calls !== undefined || message.function_call != null || message.audio != null);
    if ((message.content === undefined || message.content === null) && !answersWithoutText) {
      throw validationError(`${at}.content`, 'Is required');
    }
    for (const call of message.tool_calls ?? []) calls.add(call.id);
    if (message.role === 'tool') {
      if (message.tool_call_id === undefined) {
        throw validationError(`${at}.tool_call_id`, 'Is required');
      }
      if (!calls.has(message.tool_call_id)) {
        throw validationError(
          `${at}.tool_call_id`,
          'Does not match a tool call of an earlier assistant message',
        );
      }
    }
  }
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw validationError('top_logprobs', 'Needs logprobs: true');
  }
  const choice = body.tool_choice;
  if (typeof choice === 'object' || choice === 'required') {
    const names = new Set((body.tools ?? []).map((tool) => tool.function.name));
    if (names.size === 0) throw validationError('tool_choice', 'Needs tools');
    if (typeof choice === 'object' && !names.has(choice.function.name)) {
      throw validationError('tool_choice.function.name', 'Does not name one of the tools');
    }
  }
}
