import type { ChatMessage } from '../../domain/ports.js';
import type { ParameterTable } from './parameter-table.js';

function toOpenAIMessage(message: ChatMessage): Record<string, string> {
  return {
    role: message.role,
    content: message.content,
    ...(message.name === undefined ? {} : { name: message.name }),
  };
}

/**
 * The OpenAI Chat Completions / Completions request, described once. Every upstream request
 * streams and asks for a usage chunk, so streaming and non-streaming clients share one code path.
 */
export const OPENAI_PARAMETERS = {
  model: { from: 'model', to: 'model' },
  messages: {
    from: 'input',
    to: 'messages',
    transform: (input) => (input.kind === 'chat' ? input.messages.map(toOpenAIMessage) : undefined),
  },
  prompt: {
    from: 'input',
    to: 'prompt',
    transform: (input) => (input.kind === 'text' ? input.prompt : undefined),
  },
  max_tokens: { from: 'maxTokens', to: 'max_tokens' },
  temperature: { from: 'temperature', to: 'temperature' },
  top_p: { from: 'topP', to: 'top_p' },
  // Some OpenAI-compatible servers reject an empty list.
  stop: { from: 'stop', to: 'stop', transform: (stop) => (stop.length > 0 ? stop : undefined) },
  seed: { from: 'seed', to: 'seed' },
  stream: { to: 'stream', value: true },
  stream_options: { to: 'stream_options.include_usage', value: true },
} satisfies ParameterTable;
