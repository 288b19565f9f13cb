import type {
  GenerationCapacity,
  GenerationEvent,
  GenerationInput,
  GenerationRequest,
  ModelDescriptor,
  ModelProvider,
} from '../../../src/domain/ports.js';

/** What an upstream does with one request. */
export type Behaviour = (request: GenerationRequest) => AsyncIterable<GenerationEvent>;

export const DONE: GenerationEvent = {
  type: 'done',
  finishReason: 'stop',
  usage: { promptTokens: 1, completionTokens: 1 },
};

export function answers(...texts: string[]): Behaviour {
  return async function* () {
    for (const text of texts) yield { type: 'text', text };
    yield DONE;
  };
}

/** Fails before sending anything. */
export function failsWith(error: unknown): Behaviour {
  // eslint-disable-next-line require-yield
  return async function* () {
    throw error;
  };
}

/** Sends some text, then fails. */
export function failsAfter(texts: string[], error: unknown): Behaviour {
  return async function* () {
    for (const text of texts) yield { type: 'text', text };
    throw error;
  };
}

/** An upstream that stands for a real one: it answers per its behaviour and remembers requests. */
export class ScriptedProvider implements ModelProvider {
  readonly calls: GenerationRequest[] = [];
  /** Named `local`, it stands for the in-process provider, as the routing table's rows do. */
  readonly capacity: GenerationCapacity;

  constructor(
    readonly name: string,
    private readonly behaviour: Behaviour = answers(`from ${name}`),
    private readonly tokensPerPrompt = 7,
  ) {
    this.capacity = name === 'local' ? 'local' : 'upstream';
  }

  models(): ModelDescriptor[] {
    return [];
  }

  generate(request: GenerationRequest): AsyncIterable<GenerationEvent> {
    this.calls.push(request);
    return this.behaviour(request);
  }

  countPromptTokens(_input: GenerationInput): number {
    return this.tokensPerPrompt;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function providerMap(...providers: ModelProvider[]): Map<string, ModelProvider> {
  return new Map(providers.map((provider) => [provider.name, provider]));
}
