import {
  contentText,
  type ChatCompletionBody,
  type ChatTool,
} from '../../domain/inference/chat-request.js';
import type { ChatMessage } from '../../domain/ports.js';
import { callText, toolLines } from './tool-calls.js';

/** What a model with a chat template is told before the tools it may call. */
const TOOLS_PREAMBLE =
  'You may call one of these tools. To call one, reply with only a JSON object ' +
  '{"name": <tool name>, "arguments": <arguments object>}. Tools:';

/**
 * A chat request as the messages a local model reads: content parts as their text, an assistant's
 * tool calls as the call text the model itself would write, a tool's result as a user turn naming
 * the tool, and the tools it may call (`tools`) as a first system message. A model without a chat
 * template gets the tools as bare lines, since every token counts in a small context.
 */
export function chatTranscript(
  chat: ChatCompletionBody,
  tools: readonly ChatTool[],
  { templated }: { templated: boolean },
): ChatMessage[] {
  const names = new Map<string, string>();
  const messages: ChatMessage[] = [];
  if (tools.length > 0) {
    const lines = toolLines(tools, { compact: !templated });
    messages.push({
      role: 'system',
      content: (templated ? [TOOLS_PREAMBLE, ...lines] : lines).join('\n'),
    });
  }
  for (const message of chat.messages) {
    const text = contentText(message.content);
    switch (message.role) {
      case 'assistant': {
        const calls = (message.tool_calls ?? []).map((call) => {
          names.set(call.id, call.function.name);
          return callText(call.function.name, call.function.arguments);
        });
        messages.push({
          role: 'assistant',
          content: [text, ...calls].filter((part) => part !== '').join('\n'),
        });
        break;
      }
      case 'tool': {
        const name = names.get(message.tool_call_id ?? '') ?? 'tool';
        messages.push({ role: 'user', content: `${name} returned: ${text}` });
        break;
      }
      default:
        messages.push({
          role: message.role,
          content: text,
          ...(message.name === undefined ? {} : { name: message.name }),
        });
    }
  }
  return messages;
}
