import type { ChatCompletionBody } from '../../domain/inference/chat-request.js';
import { type AnthropicChat, toAnthropicChat } from './chat-messages.js';
import { type AnthropicTools, toAnthropicTools } from './chat-tools.js';

export type ChatTranslation = AnthropicChat & AnthropicTools;

// Several parameter rules and the stream translator read one request's translation.
const translations = new WeakMap<ChatCompletionBody, ChatTranslation>();

/** A chat request as the Messages API says it (computed once per request). */
export function chatTranslation(chat: ChatCompletionBody): ChatTranslation {
  let translation = translations.get(chat);
  if (!translation) {
    translation = { ...toAnthropicChat(chat.messages), ...toAnthropicTools(chat) };
    translations.set(chat, translation);
  }
  return translation;
}

/**
 * The Chat Completions fields, beyond those every provider honours (PLAIN_CHAT_FIELDS), that the
 * translation carries to the Messages API; admission refuses every other one by name.
 */
export const ANTHROPIC_CHAT_FIELDS = [
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
] as const;

/** Content part types the translation turns into blocks. */
export const ANTHROPIC_CONTENT_PARTS = ['text', 'image_url'] as const;
