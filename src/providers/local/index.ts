import { validationError } from '../../domain/errors.js';
import { plainChatSupport } from '../../domain/inference/chat-support.js';
import type { Logger } from '../../domain/logger.js';
import type { GenerationEvent, GenerationRequest, ModelProvider } from '../../domain/ports.js';
import { embeddingTokens, embedLocally } from './embeddings.js';
import { generateLocally } from './generation.js';
import { loadLlama } from './llama-runtime.js';
import { LocalModel, type LocalModelSpec } from './local-model.js';
import { prepareRequest } from './local-request.js';
import { renderInput } from './prompt.js';

export { renderChat, renderPrompt } from './render-prompt.js';
export { LocalModelLoadError, type LocalModelSpec } from './local-model.js';

/**
 * What a local model honours beyond the plain fields: tools and response_format through
 * llama.cpp's grammars, OpenAI's penalties and logit_bias through its sampler, and the seed. Text is
 * all it reads, so an image is refused by name; so are logprobs and n > 1, which it does not
 * compute.
 */
const LOCAL_CHAT_SUPPORT = plainChatSupport([
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'seed',
]);

export interface LocalProviderOptions {
  models: readonly LocalModelSpec[];
  logger: Logger;
}

/**
 * GGUF models served in-process by llama.cpp. Every model is loaded, with its contexts, before
 * the server listens: a missing, corrupt or too large file is a start-up error, not a failed
 * request.
 */
export async function createLocalProvider(options: LocalProviderOptions): Promise<ModelProvider> {
  const llama = await loadLlama(options.logger);
  const loaded = new Map<string, LocalModel>();
  try {
    for (const spec of options.models) {
      const started = Date.now();
      const model = await LocalModel.load(llama, spec);
      loaded.set(spec.name, model);
      options.logger.info(
        {
          model: spec.name,
          path: spec.path,
          context_size: model.contextSize,
          contexts: spec.contexts,
          threads: spec.threads,
          chat_template: model.chatWrapper ? model.chatWrapper.wrapperName : 'none (plain text)',
          load_ms: Date.now() - started,
        },
        'local model loaded',
      );
    }
  } catch (error) {
    await Promise.all([...loaded.values()].map((model) => model.dispose()));
    throw error;
  }

  function modelNamed(name: string): LocalModel {
    const model = loaded.get(name);
    if (!model) throw validationError('model', `The local provider does not serve "${name}"`);
    return model;
  }

  return {
    name: 'local',
    capacity: 'local',
    models: () => [...loaded.keys()].map((id) => ({ id, ownedBy: 'local', created: 0 })),
    async *generate(request: GenerationRequest): AsyncGenerator<GenerationEvent> {
      const model = modelNamed(request.model);
      // Refusals (422) come before the first event, so nothing is metered or sent.
      const prepared = prepareRequest(model, request);
      yield* generateLocally(model, request, prepared, options.logger);
    },
    countPromptTokens: (input, name) => renderInput(modelNamed(name), input).tokens.length,
    chatSupport: LOCAL_CHAT_SUPPORT,
    embeddings: {
      dimensions: false,
      embed: (request) => embedLocally(modelNamed(request.model), request),
      countTokens: (input, name) =>
        embeddingTokens(modelNamed(name), input).reduce((sum, tokens) => sum + tokens.length, 0),
    },
    close: async () => {
      await Promise.all([...loaded.values()].map((model) => model.dispose()));
    },
  };
}
