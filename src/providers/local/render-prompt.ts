import type { ChatMessage, ChatRole, GenerationInput } from '../../domain/ports.js';

const ROLE_LABELS: Record<ChatRole, string> = {
  system: 'System',
  developer: 'Developer',
  user: 'User',
  assistant: 'Assistant',
  tool: 'Tool',
};

/**
 * Renders a chat as the plain-text transcript the local model continues: one `Label: content`
 * block per message, content verbatim, a name in parentheses after the label, then an open
 * `Assistant:` turn for the model to write:
 *
 *   System: You are terse.
 *   User (ada): What is a token?
 *   Assistant: A small piece of text.
 *   User: Thanks!
 *   Assistant:
 */
export function renderChat(messages: readonly ChatMessage[]): string {
  const lines = messages.map((message) => {
    const name = message.name === undefined || message.name === '' ? '' : ` (${message.name})`;
    return `${ROLE_LABELS[message.role]}${name}: ${message.content}`;
  });
  lines.push(`${ROLE_LABELS.assistant}:`);
  return lines.join('\n');
}

/** The text the model continues; its token count is the request's prompt_tokens. */
export function renderPrompt(input: GenerationInput): string {
  return input.kind === 'text' ? input.prompt : renderChat(input.messages);
}
