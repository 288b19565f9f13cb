import type { GenerationRequest } from '../../domain/ports.js';
import { OPENAI_PARAMETERS } from '../shared/openai-parameters.js';
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
import { createOpenAITranslator } from './stream-translator.js';

export interface OpenAICompatibleProviderOptions extends UpstreamOptions {
  /** Sent as `Authorization: Bearer …` when set (local servers often need none). */
  apiKey?: string;
  /**
   * Changes to the request mapping for this upstream, e.g. OpenAI's reasoning models want
   * `{ max_tokens: { from: 'maxTokens', to: 'max_completion_tokens' } }`.
   */
  parameters?: ParameterOverrides;
}

/**
 * A provider for any server that speaks the OpenAI API: OpenAI itself, vLLM, Ollama, the
 * llama.cpp server, LM Studio. `baseUrl` includes the version, e.g. `https://api.openai.com/v1`.
 * The routing table names its models, so `models()` lists none.
 */
export function createOpenAICompatibleProvider(
  options: OpenAICompatibleProviderOptions,
): UpstreamModelProvider {
  const secrets = options.apiKey ? [options.apiKey] : [];
  const runtime = createUpstreamRuntime(options, secrets);
  const parameters = options.parameters
    ? extendParameters(OPENAI_PARAMETERS, options.parameters)
    : OPENAI_PARAMETERS;
  const headers: Record<string, string> = options.apiKey
    ? { authorization: `Bearer ${options.apiKey}` }
    : {};

  return {
    name: options.name,
    capacity: 'upstream',
    models: () => [],
    generate: (request: GenerationRequest) =>
      runtime.generate(request, {
        path: request.input.kind === 'chat' ? '/chat/completions' : '/completions',
        headers,
        body: buildRequestBody(parameters, request),
        createTranslator: () => createOpenAITranslator(request, secrets),
      }),
    countPromptTokens: estimatePromptTokens,
    circuitState: runtime.circuitState,
    circuitStates: runtime.circuitStates,
    close: runtime.close,
  };
}
