/** Who speaks a chat message. */
export type ChatRole = 'system' | 'user' | 'assistant' | 'developer' | 'tool';

/**
 * The Chat Completions request in OpenAI's own dialect, as the contract validated it. It is the
 * canonical chat request: an OpenAI-compatible upstream receives it as it came (only `model`
 * rewritten), and translating providers read what they honour from it.
 */
export interface ChatCompletionBody {
  model: string;
  messages: ChatRequestMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; include_obfuscation?: boolean } | null;
  tools?: ChatTool[];
  tool_choice?: ChatToolChoice;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  [field: string]: unknown;
}

export type ChatContentPart =
  | { type: 'text'; text?: string }
  | { type: 'image_url' | 'input_audio' | 'file'; [field: string]: unknown };

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatRequestMessage {
  role: ChatRole;
  content?: string | ChatContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  /** URL citations of an earlier answer, sent back as clients received them. */
  annotations?: Record<string, unknown>[];
  refusal?: string | null;
  audio?: { id: string } | null;
  function_call?: { name: string; arguments: string } | null;
}

export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: object; strict?: boolean | null };
}

export type ChatToolChoice =
  'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/** The text of a message's content: a string as is, text parts joined, nothing for no content. */
export function contentText(content: ChatRequestMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('');
}
