import type { ChatMessage, GenerationInput } from '../../domain/ports.js';

/**
 * A chat for a model without a chat template: the messages' contents as plain text, one message
 * per line, which the model continues as it would a completion prompt. Roles and names are not
 * written: a model that was never taught a transcript format (tiny-wordnet writes dictionary
 * entries) continues the text better without labels it has not seen.
 *
 *   [{system: "Define briefly."}, {user: "dog (noun):"}]  →  "Define briefly.\ndog (noun):"
 */
export function renderChat(messages: readonly ChatMessage[]): string {
  return messages.map((message) => message.content).join('\n');
}

/** The text a model without a chat template continues. */
export function renderPrompt(input: GenerationInput): string {
  return input.kind === 'text' ? input.prompt : renderChat(input.messages);
}
