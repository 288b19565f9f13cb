import type { GbnfJsonSchema, Llama, LlamaGrammar } from 'node-llama-cpp';
import type { ChatCompletionBody } from '../../domain/inference/chat-request.js';
import { ANY_OBJECT, grammarSchema } from './grammar-schema.js';
import { callableTools, callIsForced, callSchema } from './tool-calls.js';

/**
 * What a chat reply may be, and so which grammar it is sampled under:
 * - `text`: anything, but it starts with a visible character (a chat never answers empty);
 * - `json`: JSON matching `answer` (response_format);
 * - `call`: a call to one of the tools (tool_choice required or a named function);
 * - `textOrCall` / `jsonOrCall`: the model decides (tool_choice auto); a text answer then may
 *   not start with `{`, the first character of a call.
 */
export type ReplyPlan =
  | { kind: 'text' }
  | { kind: 'json'; answer: GbnfJsonSchema }
  | { kind: 'call'; call: GbnfJsonSchema }
  | { kind: 'textOrCall'; call: GbnfJsonSchema }
  | { kind: 'jsonOrCall'; call: GbnfJsonSchema; answer: GbnfJsonSchema };

/** The answer's schema from `response_format`, or none for text. */
function answerSchema(chat: ChatCompletionBody): GbnfJsonSchema | undefined {
  const format = chat.response_format as
    { type: string; json_schema?: { schema?: unknown } } | null | undefined;
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object' || format.json_schema?.schema === undefined) return ANY_OBJECT;
  return grammarSchema(format.json_schema.schema, 'response_format.json_schema.schema');
}

/** 422 (naming the keyword) for a schema its grammar cannot enforce. */
export function replyPlan(chat: ChatCompletionBody | undefined): ReplyPlan {
  const answer = chat && answerSchema(chat);
  const tools = callableTools(chat);
  if (!chat || tools.length === 0) return answer ? { kind: 'json', answer } : { kind: 'text' };
  const call = callSchema(tools, chat.tools ?? []);
  if (callIsForced(chat)) return { kind: 'call', call };
  return answer ? { kind: 'jsonOrCall', call, answer } : { kind: 'textOrCall', call };
}

/** Whether a reply of this plan is read as a call (held whole) or may stream as content. */
export function mayCall(plan: ReplyPlan): boolean {
  return plan.kind === 'call' || plan.kind === 'textOrCall' || plan.kind === 'jsonOrCall';
}

const VISIBLE_TEXT = 'gateway-text ::= [ \\t\\n\\r]* [^ \\t\\n\\r\\x00] [^\\x00]*';
const TEXT_NOT_A_CALL = 'gateway-text ::= [ \\t\\n\\r]* [^{ \\t\\n\\r\\x00] [^\\x00]*';
/** node-llama-cpp ends a JSON grammar with newlines it stops on; here the JSON's end ends it. */
const JSON_TAIL = ' "\\n\\n\\n\\n" [\\n]*';

/**
 * A JSON grammar's rules with its root renamed, so that it can be one alternative of another
 * root, and ending where the JSON value ends: llama.cpp then allows only end-of-generation.
 */
export function jsonRules(gbnf: string, name: string): string {
  const lines = gbnf.split('\n');
  const index = lines.findIndex((line) => line.startsWith('root ::= '));
  const root = lines[index];
  if (root === undefined || !root.endsWith(JSON_TAIL)) {
    throw new Error('node-llama-cpp wrote a JSON grammar of an unexpected shape');
  }
  lines[index] = `${name} ::= ${root.slice('root ::= '.length, -JSON_TAIL.length)}`;
  return lines.join('\n');
}

// Every plain chat reply uses this one; a grammar holds no parse state, so it can be shared.
const textGrammars = new WeakMap<Llama, Promise<LlamaGrammar>>();

/** The GBNF grammar of a plan (its parse state lives in a LlamaGrammarEvaluationState). */
export function replyGrammar(llama: Llama, plan: ReplyPlan): Promise<LlamaGrammar> {
  if (plan.kind !== 'text') return planGrammar(llama, plan);
  let shared = textGrammars.get(llama);
  if (!shared) {
    shared = planGrammar(llama, plan);
    textGrammars.set(llama, shared);
  }
  return shared;
}

async function planGrammar(llama: Llama, plan: ReplyPlan): Promise<LlamaGrammar> {
  // The schema is built at run time, so its type cannot be inferred from it.
  const json = async (schema: GbnfJsonSchema) =>
    jsonRules(
      (await llama.createGrammarForJsonSchema(schema as Readonly<{ type: 'object' }>)).grammar,
      'gateway-json',
    );
  let grammar: string;
  switch (plan.kind) {
    case 'text':
      grammar = `root ::= gateway-text\n${VISIBLE_TEXT}`;
      break;
    case 'json':
      grammar = `root ::= gateway-json\n${await json(plan.answer)}`;
      break;
    case 'call':
      grammar = `root ::= gateway-json\n${await json(plan.call)}`;
      break;
    case 'textOrCall':
      grammar = `root ::= gateway-json | gateway-text\n${await json(plan.call)}\n${TEXT_NOT_A_CALL}`;
      break;
    case 'jsonOrCall':
      // One schema, so node-llama-cpp names the rules of both without a clash.
      grammar = `root ::= gateway-json\n${await json({ oneOf: [plan.call, plan.answer] })}`;
      break;
  }
  return llama.createGrammar({ grammar });
}
