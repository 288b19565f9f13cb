import type { Token } from 'node-llama-cpp';
import { validationError } from '../../domain/errors.js';
import type { GenerationRequest } from '../../domain/ports.js';
import { chatTranscript } from './chat-transcript.js';
import type { LocalModel } from './local-model.js';
import { renderInput, type RenderedPrompt } from './prompt.js';
import { replyPlan, type ReplyPlan } from './reply-grammar.js';
import { logitBiasEntries } from './sampling.js';
import { callableTools } from './tool-calls.js';

/** A request as the local model serves it, refused (422) before any context is taken. */
export interface LocalRequest {
  rendered: RenderedPrompt;
  plan: ReplyPlan;
  /** The tools a call may name. */
  toolNames: ReadonlySet<string>;
  logitBias: [Token, number][];
  /** A chat reply, which is never empty (a completion may be). */
  isChat: boolean;
}

export function prepareRequest(local: LocalModel, request: GenerationRequest): LocalRequest {
  const { chat } = request;
  const plan = replyPlan(chat);
  const logitBias = logitBiasEntries(chat, local.vocabularySize, (token) =>
    local.model.isEogToken(token),
  );
  const tools = callableTools(chat);
  const templated = local.chatWrapper !== null;
  const rendered = chat
    ? renderInput(local, { kind: 'chat', messages: chatTranscript(chat, tools, { templated }) })
    : renderInput(local, request.input);
  const size = local.contextSize;
  if (rendered.tokens.length >= size) {
    const withoutTools =
      chat && tools.length > 0
        ? renderInput(local, { kind: 'chat', messages: chatTranscript(chat, [], { templated }) })
        : rendered;
    const length = withoutTools.tokens.length;
    // `request.model` is the routing table's local model name, not the public id the client
    // asked for, so the messages do not name it.
    if (length < size) {
      throw validationError(
        'tools',
        `The tool definitions take ${rendered.tokens.length - length} tokens, which with the ` +
          `messages (${length}) does not fit the model's context window of ${size} tokens`,
      );
    }
    throw validationError(
      request.input.kind === 'text' ? 'prompt' : 'messages',
      `Is ${length} tokens long; the model reads at most ${size - 1}`,
    );
  }
  return {
    rendered,
    plan,
    toolNames: new Set(tools.map((tool) => tool.function.name)),
    logitBias,
    isChat: request.input.kind === 'chat',
  };
}
