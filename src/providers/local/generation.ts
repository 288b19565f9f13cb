import { LlamaGrammarEvaluationState } from 'node-llama-cpp';
import type { Token } from 'node-llama-cpp';
import type { Logger } from '../../domain/logger.js';
import type { FinishReason, GenerationEvent, GenerationRequest } from '../../domain/ports.js';
import type { LocalModel } from './local-model.js';
import type { LocalRequest } from './local-request.js';
import { replyGrammar } from './reply-grammar.js';
import { ReplyReader } from './reply-reader.js';
import { penaltyOptions, tokenBias } from './sampling.js';
import { StopFilter } from './stop-filter.js';
import { newCallId } from './tool-calls.js';
import { TokenText } from './token-text.js';

/**
 * One generation on a context from the model's pool: waits for a free context (in arrival
 * order), evaluates the prompt, then yields text token by token. llama.cpp runs on its own
 * threads, so the event loop stays free; leaving the loop early (client gone) stops evaluation.
 *
 * A chat reply is sampled under the grammar of its plan (reply-grammar.ts): JSON for
 * response_format, a call for tools, and otherwise text that starts with a visible character, so
 * an ordinary prompt is never answered with nothing; that last grammar is dropped once it has
 * done its work. A grammar that needs more tokens than the budget leaves ends with `length`.
 */
export async function* generateLocally(
  local: LocalModel,
  request: GenerationRequest,
  prepared: LocalRequest,
  logger: Logger,
): AsyncGenerator<GenerationEvent> {
  const { rendered, plan } = prepared;
  const prompt = rendered.tokens;
  // Prompt and completion share the context: a reply that reaches its end stops with "length".
  const budget = Math.min(request.maxTokens, local.contextSize - prompt.length);
  const grammar =
    prepared.isChat || plan.kind !== 'text' ? await replyGrammar(local.model.llama, plan) : null;
  const sequence = await local.pool.acquire(request.signal);
  let completionTokens = 0;
  // Tokens already attributed to an event; the rest are still held by the filters.
  let reported = 0;
  const tokensSinceLast = (): number => {
    const tokens = completionTokens - reported;
    reported = completionTokens;
    return tokens;
  };
  const textEvent = (text: string): GenerationEvent => ({
    type: 'text',
    text,
    tokens: tokensSinceLast(),
  });
  // The call's first piece carries its id and name; the rest only arguments.
  let callId: string | undefined;
  const callEvent = (piece: { name?: string; arguments: string }): GenerationEvent => {
    const first = callId === undefined;
    callId ??= newCallId();
    return {
      type: 'toolCall',
      index: 0,
      ...(first ? { id: callId, name: piece.name } : {}),
      arguments: piece.arguments,
      tokens: tokensSinceLast(),
    };
  };
  let finished = false;
  try {
    await sequence.clearHistory();
    const stop = new StopFilter([...request.stop, ...rendered.stops]);
    const text = new TokenText(local.model);
    const reply = new ReplyReader(plan, prepared.toolNames);
    const state = grammar && new LlamaGrammarEvaluationState({ model: local.model, grammar });
    const generated: Token[] = [];
    let trimming = rendered.trimLeadingSpace;
    let finishReason: FinishReason = 'stop';
    const tokens = sequence.evaluate(prompt, {
      temperature: request.temperature,
      topP: request.topP,
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      ...(state
        ? {
            grammarEvaluationState: () =>
              plan.kind === 'text' && reply.sawVisibleText ? undefined : state,
          }
        : {}),
      ...optional('repeatPenalty', penaltyOptions(request.chat, generated, budget)),
      ...optional('tokenBias', tokenBias(local.model, prepared.logitBias)),
    });
    for await (const token of tokens) {
      request.signal.throwIfAborted();
      completionTokens += 1;
      generated.push(token);
      let piece = text.push(token);
      if (trimming && piece !== '') {
        piece = piece.trimStart();
        trimming = piece === '';
      }
      const content = reply.push(piece);
      const callPiece = reply.takeCall();
      if (callPiece) yield callEvent(callPiece);
      if (reply.isContent) {
        const released = stop.push(content);
        if (released !== '') yield textEvent(released);
        if (stop.hasStopped) break;
      }
      if (completionTokens >= budget) {
        finishReason = 'length';
        break;
      }
    }
    const rest = reply.push(text.flush());
    const { call, callRest, content } = reply.finish();
    const tail = stop.push(rest + content) + stop.flush();
    if (tail !== '') yield textEvent(tail);
    if (call) yield callEvent(call);
    else if (callRest) yield callEvent({ arguments: callRest });
    finished = true;
    yield {
      type: 'done',
      finishReason: stop.hasStopped
        ? 'stop'
        : callId !== undefined && finishReason !== 'length'
          ? 'tool_calls'
          : finishReason,
      usage: { promptTokens: prompt.length, completionTokens },
    };
  } finally {
    local.pool.release(sequence);
    // The consumer stopped pulling (client gone, timeout): evaluation stopped with it.
    if (!finished) {
      logger.info(
        { model: request.model, completion_tokens: completionTokens },
        'local generation stopped early',
      );
    }
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
