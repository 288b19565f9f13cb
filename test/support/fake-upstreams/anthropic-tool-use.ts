/**
 * How the fake Anthropic model uses tools, like the real one within what tests need: with tools
 * and a tool_choice that allows it, it calls them — the named one, or every tool in order (one
 * only with disable_parallel_tool_use) — unless it has just been given tool results under `auto`,
 * when it answers in text. Inputs are made from each tool's input_schema, so they match it.
 */

export interface FakeToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

interface Tool {
  name?: unknown;
  input_schema?: unknown;
}

interface Schema {
  type?: unknown;
  properties?: Record<string, unknown>;
  items?: unknown;
  enum?: unknown[];
}

/** A value of `schema`, the same every time. */
export function sampleOf(schema: unknown): unknown {
  const s = (schema ?? {}) as Schema;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  switch (s.type) {
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(s.properties ?? {})) {
        value[key] = sampleOf(property);
      }
      return value;
    }
    case 'array':
      return [sampleOf(s.items)];
    case 'integer':
    case 'number':
      return 42;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'fake';
  }
}

function answeredToolResults(body: Record<string, unknown>): boolean {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1] as { content?: unknown } | undefined;
  return (
    Array.isArray(last?.content) &&
    last.content.some((block: { type?: unknown }) => block?.type === 'tool_result')
  );
}

/** The calls the fake model makes for `body` (none: it answers in text). */
export function plannedToolCalls(
  body: Record<string, unknown>,
  requestIndex: number,
): FakeToolCall[] {
  const tools = (Array.isArray(body.tools) ? body.tools : []) as Tool[];
  const choice = (body.tool_choice ?? { type: 'auto' }) as {
    type?: unknown;
    name?: unknown;
    disable_parallel_tool_use?: unknown;
  };
  if (tools.length === 0 || choice.type === 'none') return [];
  if (choice.type === 'auto' && answeredToolResults(body)) return [];
  let chosen = choice.type === 'tool' ? tools.filter((tool) => tool.name === choice.name) : tools;
  if (choice.disable_parallel_tool_use === true) chosen = chosen.slice(0, 1);
  return chosen.map((tool, index) => ({
    id: `toolu_fake_${requestIndex}_${index}`,
    name: String(tool.name),
    input: sampleOf(tool.input_schema) as Record<string, unknown>,
  }));
}

/** A tool call's input JSON in pieces of a few characters, as Anthropic streams it. */
export function inputPieces(input: Record<string, unknown>, size = 4): string[] {
  const json = JSON.stringify(input);
  const pieces: string[] = [];
  for (let at = 0; at < json.length; at += size) pieces.push(json.slice(at, at + size));
  return pieces;
}
