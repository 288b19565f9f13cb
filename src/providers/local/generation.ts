import { validationError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import type { FinishReason, GenerationEvent, GenerationRequest } from '../../domain/ports.js';
import type { LocalModel } from './local-model.js';
import type { RenderedPrompt } from './prompt.js';
import { StopFilter } from './stop-filter.js';
import { TokenText } from './token-text.js';

/**
 * One generation on a context from the model's pool: waits for a free context (in arrival
 * order), evaluates the prompt, then yields text token by token. llama.cpp runs on its own
 * threads, so the event loop stays free; leaving the loop early (client gone) stops evaluation.
 */
export async function* generateLocally(
  local: LocalModel,
  request: GenerationRequest,
  rendered: RenderedPrompt,
  logger: Logger,
): AsyncGenerator<GenerationEvent> {
  const prompt = rendered.tokens;
  const size = local.contextSize;
  if (prompt.length >= size) {
    // `request.model` is the routing table's local model name, not the public id the client
    // asked for, so the message does not name it.
    throw validationError(
      request.input.kind === 'text' ? 'prompt' : 'messages',
      `Is ${prompt.length} tokens long; the model reads at most ${size - 1}`,
    );
  }
  // Prompt and completion share the context: a reply that reaches its end stops with "length".
  const budget = Math.min(request.maxTokens, size - prompt.length);
  const sequence = await local.pool.acquire(request.signal);
  let completionTokens = 0;
  // Tokens already attributed to a text event; the rest are still held by the filters.
  let reported = 0;
  const textEvent = (text: string): GenerationEvent => {
    const tokens = completionTokens - reported;
    reported = completionTokens;
    return { type: 'text', text, tokens };
  };
  let finished = false;
  try {
    await sequence.clearHistory();
    const stop = new StopFilter([...request.stop, ...rendered.stops]);
    const text = new TokenText(local.model);
    let trimming = rendered.trimLeadingSpace;
    let finishReason: FinishReason = 'stop';
    const tokens = sequence.evaluate(prompt, {
      temperature: request.temperature,
      topP: request.topP,
      ...(request.seed === undefined ? {} : { seed: request.seed }),
    });
    for await (const token of tokens) {
      request.signal.throwIfAborted();
      completionTokens += 1;
      let piece = text.push(token);
      if (trimming && piece !== '') {
        piece = piece.trimStart();
        trimming = piece === '';
      }
      const released = stop.push(piece);
      if (released !== '') yield textEvent(released);
      if (stop.hasStopped) break;
      if (completionTokens >= budget) {
        finishReason = 'length';
        break;
      }
    }
    const tail = stop.push(text.flush()) + stop.flush();
    if (tail !== '') yield textEvent(tail);
    finished = true;
    yield {
      type: 'done',
      finishReason: stop.hasStopped ? 'stop' : finishReason,
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
