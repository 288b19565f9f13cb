import type {
  FinishReason,
  GenerationEvent,
  GenerationRequest,
  ModelProvider,
  TokenUsage,
} from '../../../../src/domain/ports.js';

export interface Collected {
  text: string;
  pieces: string[];
  finishReason: FinishReason;
  usage: TokenUsage;
}

export function textRequest(
  prompt: string,
  overrides: Partial<Omit<GenerationRequest, 'input'>> = {},
): GenerationRequest {
  return {
    model: 'local-ngram',
    input: { kind: 'text', prompt },
    maxTokens: 64,
    temperature: 0,
    topP: 1,
    stop: [],
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Runs a generation to its end and checks the event contract on the way. */
export async function collect(
  provider: ModelProvider,
  request: GenerationRequest,
): Promise<Collected> {
  const pieces: string[] = [];
  let done: { finishReason: FinishReason; usage: TokenUsage } | undefined;
  for await (const event of provider.generate(request)) {
    if (done) throw new Error('event after done');
    if (event.type === 'text') {
      if (event.text === '') throw new Error('empty text event');
      pieces.push(event.text);
    } else {
      done = { finishReason: event.finishReason, usage: event.usage };
    }
  }
  if (!done) throw new Error('generation ended without done');
  return { text: pieces.join(''), pieces, ...done };
}

/** Starts a generation for step-by-step driving. */
export function iterate(
  provider: ModelProvider,
  request: GenerationRequest,
): AsyncIterator<GenerationEvent> {
  return provider.generate(request)[Symbol.asyncIterator]();
}
