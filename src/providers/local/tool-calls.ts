import { randomBytes } from 'node:crypto';
import type { GbnfJsonSchema } from 'node-llama-cpp';
import type { ChatCompletionBody, ChatTool } from '../../domain/inference/chat-request.js';
import { grammarSchema } from './grammar-schema.js';

/**
 * How a local model calls a tool: its whole reply is one JSON object
 * `{"name": "<tool>", "arguments": {…}}`, sampled under a grammar built from the tools' schemas,
 * so the name is one of the tools and the arguments match that tool's parameters. The same text
 * stands for earlier calls in the prompt, so the model sees the format it is asked to write. A
 * reply holds at most one call: `parallel_tool_calls` permits several, it never requires them.
 */

/** The tools a reply may call: all of them, the one `tool_choice` names, or none. */
export function callableTools(chat: ChatCompletionBody | undefined): ChatTool[] {
  const tools = chat?.tools ?? [];
  const choice = chat?.tool_choice;
  if (tools.length === 0 || choice === 'none') return [];
  if (typeof choice === 'object') {
    return tools.filter((tool) => tool.function.name === choice.function.name);
  }
  return tools;
}

/** Whether the reply must be a call (`required` or a named function) rather than may be one. */
export function callIsForced(chat: ChatCompletionBody | undefined): boolean {
  const choice = chat?.tool_choice;
  return choice === 'required' || typeof choice === 'object';
}

const NO_PARAMETERS = { type: 'object', properties: {} };

/** The JSON Schema of a call to any of `tools`, for the grammar. */
export function callSchema(
  tools: readonly ChatTool[],
  allTools: readonly ChatTool[],
): GbnfJsonSchema {
  const options = tools.map((tool): GbnfJsonSchema => {
    const index = allTools.indexOf(tool);
    return {
      type: 'object',
      properties: {
        name: { const: tool.function.name },
        arguments: grammarSchema(
          tool.function.parameters ?? NO_PARAMETERS,
          `tools[${index}].function.parameters`,
        ),
      },
    };
  });
  const [only] = options;
  return options.length === 1 && only ? only : { oneOf: options };
}

/** A call as the model writes it (and reads it back in the prompt). */
export function callText(name: string, args: string): string {
  let value: unknown = args;
  try {
    value = JSON.parse(args);
  } catch {
    // Arguments a client made up by hand: shown as the string they are.
  }
  return JSON.stringify({ name, arguments: value });
}

/**
 * One line per tool the model may call, for the prompt: the tool as JSON for a model with a chat
 * template, or a short signature (`get_weather(city: string, unit: "c" | "f") description`) for
 * one without, whose small context the JSON Schema would fill.
 */
export function toolLines(tools: readonly ChatTool[], { compact }: { compact: boolean }): string[] {
  return tools.map(({ function: tool }) =>
    compact
      ? [signature(tool.name, tool.parameters), tool.description].filter(Boolean).join(' ')
      : JSON.stringify({
          name: tool.name,
          ...(tool.description === undefined ? {} : { description: tool.description }),
          parameters: tool.parameters ?? NO_PARAMETERS,
        }),
  );
}

function signature(name: string, parameters: object | undefined): string {
  const properties = (parameters as { properties?: Record<string, unknown> } | undefined)
    ?.properties;
  const list = Object.entries(properties ?? {}).map(([key, value]) => `${key}: ${typeText(value)}`);
  return `${name}(${list.join(', ')})`;
}

/** A schema as a short type: `string`, `"c" | "f"`, `number[]`, `object`. */
export function typeText(schema: unknown): string {
  if (typeof schema !== 'object' || schema === null) return 'any';
  const source = schema as Record<string, unknown>;
  if ('const' in source) return JSON.stringify(source.const);
  if (Array.isArray(source.enum)) return source.enum.map((v) => JSON.stringify(v)).join(' | ');
  const options = (source.anyOf ?? source.oneOf) as unknown[] | undefined;
  if (Array.isArray(options)) return options.map(typeText).join(' | ');
  const types = Array.isArray(source.type) ? (source.type as unknown[]) : [source.type];
  return types
    .map((type) => (type === 'array' ? `${typeText(source.items)}[]` : String(type ?? 'any')))
    .join(' | ');
}

export interface ReadCall {
  name: string;
  /** The arguments as JSON text: compact when complete, as written when cut short. */
  arguments: string;
}

const PARTIAL_CALL = /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*(?:,\s*"arguments"\s*:\s*)?/;

/**
 * The call in a reply's text. A reply cut short (max_tokens, the end of the context) still
 * names its tool once the name is written, with the arguments as far as they got.
 */
export function readCall(text: string): ReadCall | undefined {
  try {
    const parsed = JSON.parse(text) as { name?: unknown; arguments?: unknown };
    if (typeof parsed.name === 'string') {
      return { name: parsed.name, arguments: JSON.stringify(parsed.arguments ?? {}) };
    }
  } catch {
    // Cut short: read what there is.
  }
  const match = PARTIAL_CALL.exec(text);
  if (!match?.[1]) return undefined;
  return { name: JSON.parse(match[1]) as string, arguments: text.slice(match[0].length) };
}

/** An id in OpenAI's style, for a call the local model made. */
export function newCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}
