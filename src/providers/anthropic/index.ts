import type { GenerationRequest } from '../../domain/ports.js';
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
import { ANTHROPIC_PARAMETERS } from './parameters.js';
import { createAnthropicTranslator } from './stream-translator.js';

export { ANTHROPIC_PARAMETERS, anthropicTemperature } from './parameters.js';
export { PLACEHOLDER_TURN, toAnthropicConversation } from './messages.js';

export interface AnthropicProviderOptions extends UpstreamOptions {
  apiKey: string;
  /** The `anthropic-version` header. */
  anthropicVersion?: string;
  /** Changes to the request mapping for this upstream. */
  parameters?: ParameterOverrides;
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
    generate: (request: GenerationRequest) =>
      runtime.generate(request, {
        path: '/v1/messages',
        headers,
        body: buildRequestBody(parameters, request),
        createTranslator: () => createAnthropicTranslator(request, secrets),
      }),
    countPromptTokens: estimatePromptTokens,
    circuitState: runtime.circuitState,
    circuitStates: runtime.circuitStates,
    close: runtime.close,
  };
}
