import type { ChatCompletionBody } from '../../domain/inference/chat-request.js';
import type { GenerationEvent, GenerationRequest } from '../../domain/ports.js';
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
import { forwardedChat } from './chat-forwarding.js';
import { checkCompletion, completionEvents, createChatRelayTranslator } from './chat-relay.js';
import { createOpenAIEmbeddings } from './embeddings.js';
import { createOpenAITranslator } from './stream-translator.js';

export interface OpenAICompatibleProviderOptions extends UpstreamOptions {
  /** Sent as `Authorization: Bearer …` when set (local servers often need none). */
  apiKey?: string;
  /**
   * Changes to the request mapping of requests without a client chat body (POST /v1/completions),
   * e.g. `{ max_tokens: { from: 'maxTokens', to: 'max_completion_tokens' } }`; a chat body is
   * forwarded as the client sent it.
   */
  parameters?: ParameterOverrides;
}

/**
 * A provider for any server that speaks the OpenAI API: OpenAI itself, vLLM, Ollama, the
 * llama.cpp server, LM Studio. `baseUrl` includes the version, e.g. `https://api.openai.com/v1`.
 * The routing table names its models, so `models()` lists none. A Chat Completions request goes
 * as the client sent it and its answer comes back as `relay` events, so it honours every field.
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

  // Non-streamed stays non-streamed: one JSON answer, relayed whole.
  async function* complete(
    request: GenerationRequest,
    body: Record<string, unknown>,
  ): AsyncGenerator<GenerationEvent> {
    const answer = await runtime.postJson(request, {
      path: '/chat/completions',
      headers,
      body: JSON.stringify(body),
      accept: checkCompletion(secrets),
    });
    yield* completionEvents(answer, request);
  }

  function relayChat(
    request: GenerationRequest,
    chat: ChatCompletionBody,
  ): AsyncIterable<GenerationEvent> {
    const { body, stream, clientWantsUsage } = forwardedChat(chat, request.model);
    if (!stream) return complete(request, body);
    return runtime.generate(request, {
      path: '/chat/completions',
      headers,
      body,
      createTranslator: () => createChatRelayTranslator(request, secrets, clientWantsUsage),
    });
  }

  return {
    name: options.name,
    capacity: 'upstream',
    chatSupport: { kind: 'all' },
    models: () => [],
    generate: (request: GenerationRequest) =>
      request.chat
        ? relayChat(request, request.chat)
        : runtime.generate(request, {
            path: request.input.kind === 'chat' ? '/chat/completions' : '/completions',
            headers,
            body: buildRequestBody(parameters, request),
            createTranslator: () => createOpenAITranslator(request, secrets),
          }),
    countPromptTokens: estimatePromptTokens,
    embeddings: createOpenAIEmbeddings(runtime, headers),
    circuitState: runtime.circuitState,
    circuitStates: runtime.circuitStates,
    close: runtime.close,
  };
}
