import { validationError } from '../../domain/errors.js';
import type {
  ChatContentPart,
  ChatRequestMessage,
  ChatToolCall,
} from '../../domain/inference/chat-request.js';
import { PLACEHOLDER_TURN } from './messages.js';

export type AnthropicBlock = Record<string, unknown> & { type: string };

export interface AnthropicChatTurn {
  role: 'user' | 'assistant';
  /** A turn of one plain text block is sent as a string, as Anthropic's own examples do. */
  content: string | AnthropicBlock[];
}

export interface AnthropicChat {
  system: string | undefined;
  /** Alternating, starting with a user turn. */
  messages: AnthropicChatTurn[];
}

/** The image types the Messages API takes as base64. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(part: ChatContentPart, at: string): AnthropicBlock {
  const image = (part as { image_url?: { url?: unknown; detail?: unknown } }).image_url;
  const url = typeof image?.url === 'string' ? image.url : '';
  // Anthropic sizes images itself; a client asking for a particular resolution would not get it.
  if (image?.detail !== undefined && image.detail !== 'auto') {
    throw validationError(`${at}.image_url.detail`, 'Only "auto" is supported by Anthropic models');
  }
  if (url.startsWith('https:')) return { type: 'image', source: { type: 'url', url } };
  const data = DATA_URL.exec(url);
  if (!data || !IMAGE_TYPES.has(data[1] as string)) {
    throw validationError(
      `${at}.image_url.url`,
      'Must be an https: URL or a base64 data URL of a JPEG, PNG, GIF or WebP image',
    );
  }
  return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } };
}

function partBlock(part: ChatContentPart, at: string): AnthropicBlock | undefined {
  let block: AnthropicBlock | undefined;
  if (part.type === 'image_url') block = imageBlock(part, at);
  else if (part.type === 'text' && part.text) block = { type: 'text', text: part.text };
  // The API rejects empty text blocks; an empty part says nothing, so it is left out.
  if (block && (part as Record<string, unknown>).prompt_cache_breakpoint !== undefined) {
    block.cache_control = { type: 'ephemeral' };
  }
  return block;
}

function contentBlocks(content: ChatRequestMessage['content'], at: string): AnthropicBlock[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  const blocks: AnthropicBlock[] = [];
  for (const [index, part] of (content ?? []).entries()) {
    const block = partBlock(part, `${at}.content[${index}]`);
    if (block) blocks.push(block);
  }
  return blocks;
}

function toolUseBlock(call: ChatToolCall, at: string): AnthropicBlock {
  let input: unknown;
  try {
    // Some clients send '' for a call without arguments.
    input = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    input = undefined;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw validationError(`${at}.function.arguments`, 'Must be a JSON object');
  }
  return { type: 'tool_use', id: call.id, name: call.function.name, input };
}

function messageBlocks(message: ChatRequestMessage, at: string): AnthropicBlock[] {
  if (message.role === 'tool') {
    const content = contentBlocks(message.content, at);
    return [
      {
        type: 'tool_result',
        tool_use_id: message.tool_call_id,
        ...(content.length === 0 ? {} : { content }),
      },
    ];
  }
  const blocks = contentBlocks(message.content, at);
  for (const [index, call] of (message.tool_calls ?? []).entries()) {
    blocks.push(toolUseBlock(call, `${at}.tool_calls[${index}]`));
  }
  return blocks;
}

function systemText(message: ChatRequestMessage, at: string): string {
  const texts: string[] = [];
  for (const [index, part] of (typeof message.content === 'string'
    ? [{ type: 'text' as const, text: message.content }]
    : (message.content ?? [])
  ).entries()) {
    if (part.type !== 'text') {
      throw validationError(`${at}.content[${index}]`, 'A system message takes text only');
    }
    if (part.text) texts.push(part.text);
  }
  return texts.join('');
}

/** Trailing whitespace is refused in a final assistant turn, which the model continues. */
function trimPrefill(turns: AnthropicChatTurn[]): void {
  const last = turns[turns.length - 1];
  if (last?.role !== 'assistant' || typeof last.content === 'string') return;
  const final = last.content[last.content.length - 1];
  if (final?.type === 'text' && typeof final.text === 'string') {
    final.text = final.text.trimEnd();
    if (final.text === '') last.content.pop();
  }
  if (last.content.length === 0) turns.pop();
}

/**
 * A Chat Completions conversation as the Messages API takes it: system and developer messages
 * lifted out, assistant tool calls as `tool_use` blocks, tool messages as `tool_result` blocks of
 * the user's turn (consecutive ones in one turn), images as `image` blocks, neighbours of one role
 * merged so that user and assistant alternate, and a user turn first.
 */
export function toAnthropicChat(messages: readonly ChatRequestMessage[]): AnthropicChat {
  const system: string[] = [];
  const turns: { role: AnthropicChatTurn['role']; content: AnthropicBlock[] }[] = [];
  for (const [index, message] of messages.entries()) {
    const at = `messages[${index}]`;
    // Anthropic has no participant names: honouring one is impossible, dropping it would be silent.
    if (message.name !== undefined) {
      throw validationError(`${at}.name`, 'Message names are not supported by Anthropic models');
    }
    if (message.role === 'system' || message.role === 'developer') {
      const text = systemText(message, at);
      if (text !== '') system.push(text);
      continue;
    }
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const blocks = messageBlocks(message, at);
    const previous = turns[turns.length - 1];
    if (previous?.role === role) previous.content.push(...blocks);
    else turns.push({ role, content: blocks });
  }
  const result: AnthropicChatTurn[] = turns;
  trimPrefill(result);
  if (result[0]?.role !== 'user') result.unshift({ role: 'user', content: [] });
  return {
    system: system.length > 0 ? system.join('\n\n') : undefined,
    messages: result.map((turn) => ({ role: turn.role, content: compact(turn.content) })),
  };
}

function compact(content: string | AnthropicBlock[]): string | AnthropicBlock[] {
  if (typeof content === 'string') return content;
  if (content.length === 0) return PLACEHOLDER_TURN;
  const [only] = content;
  if (content.length === 1 && only?.type === 'text' && only.cache_control === undefined) {
    return only.text as string;
  }
  return content;
}
