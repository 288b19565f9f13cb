import { validationError } from '../../domain/errors.js';
import type { ChatCompletionBody, ChatTool } from '../../domain/inference/chat-request.js';

interface ResponseFormat {
  type?: unknown;
  json_schema?: { name?: unknown; description?: unknown; schema?: unknown; strict?: unknown };
}

/** The tool a `json_object` answer is forced through: any JSON object is a valid input. */
export const JSON_OBJECT_TOOL = 'json_object';

const RESPONSE_TOOL_DESCRIPTION =
  'Give your whole answer as the input of this tool: it is the response format the user asked for.';

export interface AnthropicTools {
  tools?: Record<string, unknown>[];
  tool_choice?: Record<string, unknown>;
  /**
   * The forced tool that carries a `response_format` answer; its input is the message content,
   * not a tool call.
   */
  responseTool?: string;
}

function objectSchema(schema: unknown, field: string): Record<string, unknown> {
  if (schema === undefined) return { type: 'object', properties: {} };
  // The Messages API takes only object schemas for a tool's input.
  if (
    schema === null ||
    typeof schema !== 'object' ||
    (schema as { type?: unknown }).type !== 'object'
  ) {
    throw validationError(field, 'Anthropic models need a schema of "type": "object" here');
  }
  return schema as Record<string, unknown>;
}

function toolOf(tool: ChatTool, index: number): Record<string, unknown> {
  const { name, description, parameters, strict } = tool.function;
  return {
    name,
    ...(description === undefined ? {} : { description }),
    input_schema: objectSchema(parameters, `tools[${index}].function.parameters`),
    // Anthropic's strict tool use is the same guarantee: inputs validated against the schema.
    ...(strict === true ? { strict: true } : {}),
  };
}

function responseToolOf(body: ChatCompletionBody): Record<string, unknown> | undefined {
  const format = body.response_format as ResponseFormat | null | undefined;
  if (format?.type === 'json_object') {
    return {
      name: JSON_OBJECT_TOOL,
      description: RESPONSE_TOOL_DESCRIPTION,
      input_schema: { type: 'object' },
    };
  }
  if (format?.type !== 'json_schema') return undefined;
  const spec = format.json_schema ?? {};
  const described = typeof spec.description === 'string' ? `${spec.description}\n\n` : '';
  return {
    name: spec.name,
    description: described + RESPONSE_TOOL_DESCRIPTION,
    input_schema: objectSchema(spec.schema, 'response_format.json_schema.schema'),
    ...(spec.strict === true ? { strict: true } : {}),
  };
}

function choiceOf(body: ChatCompletionBody, forced: string | undefined): Record<string, unknown> {
  const choice = body.tool_choice;
  if (choice === 'none' && forced === undefined) return { type: 'none' };
  const single = body.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (typeof choice === 'object') return { type: 'tool', name: choice.function.name, ...single };
  if (choice === 'required') return { type: 'any', ...single };
  if (forced !== undefined) {
    // No client tool may be called: only the answer tool. With client tools callable, the model
    // either calls one of them or answers through the answer tool, as OpenAI's model would.
    if (choice === 'none' || !body.tools?.length) return { type: 'tool', name: forced, ...single };
    return { type: 'any', ...single };
  }
  return { type: 'auto', ...single };
}

/**
 * `tools`, `tool_choice`, `parallel_tool_calls` and `response_format` as the Messages API says
 * them. A JSON answer is a forced tool whose input is the answer, because every Claude model
 * honours forced tools while the native JSON output exists only on some.
 */
export function toAnthropicTools(body: ChatCompletionBody): AnthropicTools {
  const tools = (body.tools ?? []).map(toolOf);
  const response = responseToolOf(body);
  const forcedByClient = typeof body.tool_choice === 'object' || body.tool_choice === 'required';
  const responseTool = response && !forcedByClient ? (response.name as string) : undefined;
  if (response && responseTool !== undefined) {
    if (tools.some((tool) => tool.name === responseTool)) {
      throw validationError('response_format', `Names a tool of the request (${responseTool})`);
    }
    tools.push(response);
  }
  if (tools.length === 0) return {};
  const explicit =
    body.tool_choice !== undefined || body.parallel_tool_calls === false || responseTool;
  return {
    tools,
    ...(explicit ? { tool_choice: choiceOf(body, responseTool) } : {}),
    ...(responseTool === undefined ? {} : { responseTool }),
  };
}
