import type { ReplyContext } from './fake-server.js';
import { sampleFor } from './json-sample.js';
import { DEFAULT_REPLY } from './modes.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface PlannedCall {
  id: string;
  name: string;
  arguments: string;
  /** The arguments as streamed: a few characters per chunk, as OpenAI splits them. */
  pieces: string[];
}

/** What the fake model answers to one Chat Completions request, the same for each of `n` choices. */
export interface ChatPlan {
  n: number;
  /** Content pieces, one per chunk; empty when the answer is tool calls. */
  pieces: string[];
  calls: PlannedCall[];
  finish: string;
  logprobs: boolean;
  topLogprobs: number;
}

/** Arguments and JSON answers stream this many characters per chunk. */
const JSON_PIECE_CHARS = 4;

function slices(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size)
    pieces.push(text.slice(start, start + size));
  return pieces;
}

function toolsOf(body: Json): Array<{ name: string; parameters: unknown }> {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  return tools.flatMap((tool) => {
    const fn = isObject(tool) && isObject(tool.function) ? tool.function : undefined;
    return fn && typeof fn.name === 'string' ? [{ name: fn.name, parameters: fn.parameters }] : [];
  });
}

/**
 * Which tools the fake calls: none without tools or with `tool_choice: "none"`; under `auto` none
 * once the last message is a tool result (so a client's tool loop ends with a text answer); the
 * named one for a named choice; every tool for `parallel_tool_calls: true`, else the first.
 */
function calledTools(body: Json): Array<{ name: string; parameters: unknown }> {
  const tools = toolsOf(body);
  const choice = body.tool_choice;
  if (tools.length === 0 || choice === 'none') return [];
  if (isObject(choice) && isObject(choice.function)) {
    return tools.filter((tool) => tool.name === (choice.function as Json).name);
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last: unknown = messages[messages.length - 1];
  if (choice !== 'required' && isObject(last) && last.role === 'tool') return [];
  return body.parallel_tool_calls === true ? tools : tools.slice(0, 1);
}

function jsonAnswer(body: Json): string | undefined {
  const format = body.response_format;
  if (!isObject(format)) return undefined;
  if (format.type === 'json_object') return JSON.stringify({ reply: DEFAULT_REPLY });
  if (format.type !== 'json_schema' || !isObject(format.json_schema)) return undefined;
  return JSON.stringify(sampleFor(format.json_schema.schema));
}

const plans = new WeakMap<ReplyContext, ChatPlan>();

export function planChat(ctx: ReplyContext): ChatPlan {
  const known = plans.get(ctx);
  if (known) return known;
  const { body } = ctx;
  const calls = calledTools(body).map((tool, index): PlannedCall => {
    const args = JSON.stringify(sampleFor(tool.parameters));
    return {
      id: `call_fake_${index}`,
      name: tool.name,
      arguments: args,
      pieces: slices(args, JSON_PIECE_CHARS),
    };
  });
  const json = calls.length === 0 ? jsonAnswer(body) : undefined;
  const plan: ChatPlan = {
    n: typeof body.n === 'number' ? body.n : 1,
    pieces:
      calls.length > 0 ? [] : json === undefined ? ctx.pieces : slices(json, JSON_PIECE_CHARS),
    calls,
    finish: calls.length > 0 ? 'tool_calls' : json === undefined ? ctx.finish : 'stop',
    logprobs: body.logprobs === true,
    topLogprobs: typeof body.top_logprobs === 'number' ? body.top_logprobs : 0,
  };
  plans.set(ctx, plan);
  return plan;
}

/** Completion tokens of the whole answer: a piece is a token, for every choice. */
export function completionTokens(plan: ChatPlan): number {
  const perChoice =
    plan.pieces.length + plan.calls.reduce((sum, call) => sum + call.pieces.length, 0);
  return perChoice * plan.n;
}

/** OpenAI's logprob entry for one output token; alternatives after it, each less likely. */
function logprobEntry(token: string, top: number): Json {
  const bytes = [...Buffer.from(token, 'utf8')];
  return {
    token,
    logprob: -0.25,
    bytes,
    top_logprobs: Array.from({ length: top }, (_, rank) =>
      rank === 0
        ? { token, logprob: -0.25, bytes }
        : { token: `alt${rank}`, logprob: -1 - rank, bytes: [...Buffer.from(`alt${rank}`)] },
    ),
  };
}

export function logprobsOf(plan: ChatPlan, pieces: string[]): Json | undefined {
  if (!plan.logprobs) return undefined;
  return {
    content:
      plan.calls.length > 0 ? null : pieces.map((piece) => logprobEntry(piece, plan.topLogprobs)),
    refusal: null,
  };
}

/** The `message` of each choice of a non-streamed answer. */
export function completionChoices(plan: ChatPlan): Json[] {
  const content = plan.pieces.join('');
  return Array.from({ length: plan.n }, (_, index) => {
    const logprobs = logprobsOf(plan, plan.pieces);
    const message: Json =
      plan.calls.length > 0
        ? {
            role: 'assistant',
            content: null,
            tool_calls: plan.calls.map((call) => ({
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: call.arguments },
            })),
            refusal: null,
          }
        : { role: 'assistant', content, refusal: null };
    return {
      index,
      message,
      ...(logprobs === undefined ? {} : { logprobs }),
      finish_reason: plan.finish,
    };
  });
}

/**
 * The `choices[0]` of each content chunk of a streamed answer, in order: text pieces for each
 * choice in turn; or per choice, each call's opening delta (id, name, empty arguments) and then
 * its arguments a few characters at a time, as OpenAI streams tool calls.
 */
export function streamedChoices(plan: ChatPlan): Json[] {
  const out: Json[] = [];
  if (plan.calls.length === 0) {
    for (const piece of plan.pieces) {
      for (let index = 0; index < plan.n; index += 1) {
        const logprobs = logprobsOf(plan, [piece]);
        out.push({
          index,
          delta: { content: piece },
          ...(logprobs === undefined ? {} : { logprobs }),
          finish_reason: null,
        });
      }
    }
    return out;
  }
  for (let index = 0; index < plan.n; index += 1) {
    for (const [position, call] of plan.calls.entries()) {
      const opening = {
        index: position,
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: '' },
      };
      out.push({ index, delta: { tool_calls: [opening] }, finish_reason: null });
      for (const piece of call.pieces) {
        out.push({
          index,
          delta: { tool_calls: [{ index: position, function: { arguments: piece } }] },
          finish_reason: null,
        });
      }
    }
  }
  return out;
}
