import type { ChatMessage, GenerationInput } from '../../domain/ports.js';

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface AnthropicConversation {
  /** System and developer messages, joined; undefined when there were none. */
  system: string | undefined;
  /** Strictly alternating, starting with a user turn. */
  messages: AnthropicMessage[];
}

/**
 * Stands in for a turn the Messages API needs but the conversation lacks (it must start with a
 * user turn) or left empty: the API rejects empty and whitespace-only content.
 */
export const PLACEHOLDER_TURN = '.';

const TURN_SEPARATOR = '\n\n';

function turnRole(message: ChatMessage): AnthropicMessage['role'] {
  // Tool results arrive as plain text in this API, so they are the user's turn.
  return message.role === 'assistant' ? 'assistant' : 'user';
}

/**
 * An OpenAI-style conversation as the Messages API accepts it: system prompts lifted out, same-role
 * neighbours merged so user and assistant alternate, and a user turn first.
 */
export function toAnthropicConversation(input: GenerationInput): AnthropicConversation {
  if (input.kind === 'text') {
    return {
      system: undefined,
      messages: [{ role: 'user', content: input.prompt || PLACEHOLDER_TURN }],
    };
  }
  const system: string[] = [];
  const turns: AnthropicMessage[] = [];
  for (const message of input.messages) {
    if (message.role === 'system' || message.role === 'developer') {
      if (message.content !== '') system.push(message.content);
      continue;
    }
    const role = turnRole(message);
    const previous = turns[turns.length - 1];
    if (previous?.role === role) previous.content += TURN_SEPARATOR + message.content;
    else turns.push({ role, content: message.content });
  }
  const last = turns[turns.length - 1];
  if (last?.role === 'assistant') {
    // A final assistant turn is a prefill the model continues; the API rejects trailing
    // whitespace there, and an empty one says nothing.
    last.content = last.content.trimEnd();
    if (last.content === '') turns.pop();
  }
  if (turns[0]?.role !== 'user') turns.unshift({ role: 'user', content: PLACEHOLDER_TURN });
  for (const turn of turns) {
    if (turn.content.trim() === '') turn.content = PLACEHOLDER_TURN;
  }
  return {
    system: system.length > 0 ? system.join(TURN_SEPARATOR) : undefined,
    messages: turns,
  };
}
