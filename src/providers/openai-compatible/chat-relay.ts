import type { GenerationEvent, GenerationRequest } from '../../domain/ports.js';
import { countTextTokens, estimatePromptTokens } from '../shared/token-count.js';
import { redactForLog, UpstreamFailure } from '../shared/upstream-errors.js';
import type { StreamTranslator } from '../shared/upstream-runtime.js';
import { finishReasonOf, reportedUsage, tokenUsage, type ReportedUsage } from './answer-fields.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringAt(value: unknown, key: string): string {
  const found = isObject(value) ? value[key] : undefined;
  return typeof found === 'string' ? found : '';
}

function choicesOf(answer: Json): Json[] {
  return Array.isArray(answer.choices) ? answer.choices.filter(isObject) : [];
}

/** The first choice: the one the response cache and the finish reason follow. */
function firstChoice(choices: Json[]): Json | undefined {
  return choices.find((choice) => (choice.index ?? 0) === 0);
}

/**
 * What a message or delta generated, as text to count tokens of: content, refusal and tool-call
 * arguments (names and ids are framing). Every choice counts: `n` choices cost `n` answers.
 */
function generatedText(choices: Json[], key: 'message' | 'delta'): string {
  let text = '';
  for (const choice of choices) {
    const part = choice[key];
    text += stringAt(part, 'content') + stringAt(part, 'refusal');
    const calls = isObject(part) && Array.isArray(part.tool_calls) ? part.tool_calls : [];
    for (const call of calls)
      text += stringAt(isObject(call) ? call.function : undefined, 'arguments');
  }
  return text;
}

function upstreamError(answer: Json, secrets: readonly string[]): UpstreamFailure | undefined {
  if (!isObject(answer.error)) return undefined;
  const detail = redactForLog(stringAt(answer.error, 'message'), secrets);
  return new UpstreamFailure('upstream-event', { detail });
}

/**
 * A 2xx non-streamed answer is relayed only if it is a completion; an error object or a body
 * without choices fails like any unreadable answer (before anything reached the client).
 */
export function checkCompletion(secrets: readonly string[]): (answer: Json) => void {
  return (answer) => {
    const error = upstreamError(answer, secrets);
    if (error) throw error;
    if (!Array.isArray(answer.choices)) {
      throw new UpstreamFailure('malformed', { detail: 'completion without choices' });
    }
  };
}

/** A non-streamed `chat.completion`, relayed whole, then its finish reason and usage. */
export function completionEvents(answer: Json, request: GenerationRequest): GenerationEvent[] {
  const choices = choicesOf(answer);
  const first = firstChoice(choices);
  const usage = tokenUsage(reportedUsage(answer.usage), () => ({
    promptTokens: estimatePromptTokens(request.input),
    completionTokens: countTextTokens(generatedText(choices, 'message')),
  }));
  return [
    {
      type: 'relay',
      data: answer,
      text: stringAt(first?.message, 'content'),
      tokens: usage.completionTokens,
    },
    { type: 'done', finishReason: finishReasonOf(first?.finish_reason) ?? 'stop', usage },
  ];
}

/** Whether a chunk carries nothing generated yet: a role-only opening chunk, say. */
function carriesNothing(choices: Json[], piece: string): boolean {
  return (
    piece === '' &&
    choices.every(
      (choice) =>
        choice.finish_reason == null &&
        choice.logprobs == null &&
        !(isObject(choice.delta) && Array.isArray(choice.delta.tool_calls)),
    )
  );
}

/**
 * Relays a `chat.completion.chunk` stream chunk for chunk, as the upstream sent it. Two changes:
 * when the gateway asked for usage and the client did not, the usage-only chunk is dropped and
 * the `usage: null` OpenAI adds to every other chunk left out, so the client sees the stream it
 * asked for; and chunks that carry nothing generated yet (the role chunk) wait for the first one
 * that does, so that a connection lost right after them can still be retried. Servers that
 * ignore `include_usage` are metered on an o200k estimate.
 */
export function createChatRelayTranslator(
  request: GenerationRequest,
  secrets: readonly string[],
  clientWantsUsage: boolean,
): StreamTranslator {
  let finishReason: ReturnType<typeof finishReasonOf>;
  let reported: ReportedUsage | undefined;
  let generated = '';
  let held: GenerationEvent[] = [];

  function release(...events: GenerationEvent[]): GenerationEvent[] {
    const out = [...held, ...events];
    held = [];
    return out;
  }

  function done(): GenerationEvent {
    const usage = tokenUsage(reported, () => ({
      promptTokens: estimatePromptTokens(request.input),
      completionTokens: countTextTokens(generated),
    }));
    return { type: 'done', finishReason: finishReason ?? 'stop', usage };
  }

  return {
    push(event) {
      if (event.data.trim() === '[DONE]') return release(done());
      let chunk: unknown;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        throw new UpstreamFailure('malformed', { detail: 'chunk is not JSON' });
      }
      if (!isObject(chunk)) {
        throw new UpstreamFailure('malformed', { detail: 'chunk is not an object' });
      }
      const error = upstreamError(chunk, secrets);
      if (error) throw error;
      if (isObject(chunk.usage)) reported = reportedUsage(chunk.usage);
      const choices = choicesOf(chunk);
      const first = firstChoice(choices);
      finishReason = finishReasonOf(first?.finish_reason) ?? finishReason;
      let data = chunk;
      if (!clientWantsUsage && 'usage' in chunk) {
        if (choices.length === 0 && chunk.usage != null) return [];
        data = { ...chunk };
        delete data.usage;
      }
      const piece = generatedText(choices, 'delta');
      generated += piece;
      const relayed: GenerationEvent = {
        type: 'relay',
        data,
        text: stringAt(first?.delta, 'content'),
        // An estimate, metered if the stream is cut short; `done` brings the upstream's count.
        tokens: countTextTokens(piece),
      };
      if (finishReason === undefined && carriesNothing(choices, piece)) {
        held.push(relayed);
        return [];
      }
      return release(relayed);
    },
    end() {
      // Tolerate a server that finished the answer but closed without `[DONE]`.
      if (finishReason !== undefined) return done();
      throw new UpstreamFailure('malformed', { detail: 'stream ended before completion' });
    },
  };
}
