import { validationError } from '../../domain/errors.js';
import { OPENAI_PARAMETERS } from '../shared/openai-parameters.js';
import { extendParameters } from '../shared/parameter-table.js';
import { chatTranslation } from './chat-translation.js';
import { toAnthropicConversation } from './messages.js';

/**
 * Anthropic accepts temperatures in [0, 1] where OpenAI accepts [0, 2]. A higher one is refused by
 * name rather than clamped: clamping would answer a different request than the one sent.
 */
export function anthropicTemperature(temperature: number): number {
  if (temperature > 1) {
    throw validationError('temperature', 'Must be between 0 and 1 for Anthropic models');
  }
  return temperature;
}

/** The Messages API request: the OpenAI table with Anthropic's differences written over it. */
export const ANTHROPIC_PARAMETERS = extendParameters(OPENAI_PARAMETERS, {
  // A chat request is translated from the client's own body (parts, tool calls, tool results);
  // POST /v1/completions has only the text input.
  messages: {
    from: 'input',
    to: 'messages',
    transform: (input, request) =>
      request.chat
        ? chatTranslation(request.chat).messages
        : toAnthropicConversation(input).messages,
  },
  system: {
    from: 'input',
    to: 'system',
    transform: (input, request) =>
      request.chat ? chatTranslation(request.chat).system : toAnthropicConversation(input).system,
  },
  tools: {
    from: 'chat',
    to: 'tools',
    transform: (chat) => (chat ? chatTranslation(chat).tools : undefined),
  },
  tool_choice: {
    from: 'chat',
    to: 'tool_choice',
    transform: (chat) => (chat ? chatTranslation(chat).tool_choice : undefined),
  },
  // Both name the end user for abuse detection, which is what Anthropic's user_id is for.
  user: {
    from: 'chat',
    to: 'metadata.user_id',
    transform: (chat) => {
      const user = chat?.user ?? chat?.safety_identifier;
      return typeof user === 'string' ? user : undefined;
    },
  },
  prompt: null,
  temperature: { from: 'temperature', to: 'temperature', transform: anthropicTemperature },
  // top_p = 1 is "no nucleus sampling"; leaving it out keeps models that refuse temperature and
  // top_p together working.
  top_p: { from: 'topP', to: 'top_p', transform: (topP) => (topP < 1 ? topP : undefined) },
  stop: {
    from: 'stop',
    to: 'stop_sequences',
    transform: (stop) => (stop.length > 0 ? stop : undefined),
  },
  seed: null,
  stream_options: null,
});
