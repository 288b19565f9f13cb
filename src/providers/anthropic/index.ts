import { type ChatSupport, PLAIN_CHAT_FIELDS } from '../../domain/inference/chat-support.js';
import type { GenerationEvent, GenerationRequest } from '../../domain/ports.js';
import {
  buildRequestBody,
  extendParameters,
  type ParameterOverrides,
} from '../shared/parameter-table.js';
import { estimatePromptTokens } from '../shared/token-count.js';
import {
  createUpstreamRuntime,
  type UpstreamModelProvider,
  type UpstreamOptions,
} from '../shared/upstream-runtime.js';
import {
  ANTHROPIC_CHAT_FIELDS,
  ANTHROPIC_CONTENT_PARTS,
  chatTranslation,
} from './chat-translation.js';
import { ANTHROPIC_PARAMETERS } from './parameters.js';
import { createAnthropicTranslator } from './stream-translator.js';

export { ANTHROPIC_PARAMETERS, anthropicTemperature } from './parameters.js';
export { PLACEHOLDER_TURN, toAnthropicConversation } from './messages.js';

/**
 * What the Messages API can be asked through the translation; everything else of a chat request
 * (logprobs, n > 1, logit_bias, penalties, seed, audio, …) is refused by name at admission.
 */
export const ANTHROPIC_CHAT_SUPPORT: ChatSupport = {
  kind: 'fields',
  fields: new Set([...PLAIN_CHAT_FIELDS, ...ANTHROPIC_CHAT_FIELDS]),
  contentParts: new Set(ANTHROPIC_CONTENT_PARTS),
};

export interface AnthropicProviderOptions extends UpstreamOptions {
  apiKey: string;
  /** The `anthropic-version` header. */
  anthropicVersion?: string;
  /** Changes to the request mapping for this upstream. */
  parameters?: ParameterOverrides;
}

/** A request that cannot be translated fails on its first step, as an upstream failure does. */
function failing(error: unknown): AsyncIterable<GenerationEvent> {
  return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
}

/**
 * A provider for Anthropic's Messages API. `baseUrl` is the origin, e.g.
 * `https://api.anthropic.com`. The routing table names its models, so `models()` lists none.
 * Prompt tokens are estimated with o200k_base: Anthropic's tokenizer is not public, and the
 * upstream's real count arrives in the usage of `done`.
 */
export function createAnthropicProvider(options: AnthropicProviderOptions): UpstreamModelProvider {
  const secrets = [options.apiKey];
  const runtime = createUpstreamRuntime(options, secrets);
  const parameters = options.parameters
    ? extendParameters(ANTHROPIC_PARAMETERS, options.parameters)
    : ANTHROPIC_PARAMETERS;
  const headers = {
    'x-api-key': options.apiKey,
    'anthropic-version': options.anthropicVersion ?? '2023-06-01',
  };

  return {
    name: options.name,
    capacity: 'upstream',
    models: () => [],
    generate: (request: GenerationRequest) => {
      let body: Record<string, unknown>;
      let responseTool: string | undefined;
      try {
        body = buildRequestBody(parameters, request);
        responseTool = request.chat && chatTranslation(request.chat).responseTool;
      } catch (error) {
        return failing(error);
      }
      return runtime.generate(request, {
        path: '/v1/messages',
        headers,
        body,
        createTranslator: () => createAnthropicTranslator(request, secrets, responseTool),
      });
    },
    countPromptTokens: estimatePromptTokens,
    chatSupport: ANTHROPIC_CHAT_SUPPORT,
    circuitState: runtime.circuitState,
    circuitStates: runtime.circuitStates,
    close: runtime.close,
  };
}
