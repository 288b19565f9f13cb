import type { ChatHistoryItem, LlamaText, Token } from 'node-llama-cpp';
import type { ChatMessage, GenerationInput } from '../../domain/ports.js';
import type { LocalModel } from './local-model.js';
import { renderChat } from './render-prompt.js';

export interface RenderedPrompt {
  tokens: Token[];
  /** Text that ends the reply besides the model's own end-of-generation tokens. */
  stops: string[];
  /** A plain-text chat reply continues the last message; the space after it is not the reply's. */
  trimLeadingSpace: boolean;
}

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history = messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case 'assistant':
        return { type: 'model', response: [message.content] };
      case 'system':
      case 'developer':
        return { type: 'system', text: message.content };
      default:
        return { type: 'user', text: message.content };
    }
  });
  // The open turn the model writes.
  history.push({ type: 'model', response: [] });
  return history;
}

function plainText(trigger: LlamaText): string | null {
  return trigger.values.every((value) => typeof value === 'string')
    ? trigger.values.join('')
    : null;
}

/**
 * The tokens a generation starts from. Completions: the prompt as written (after BOS when the
 * model wants one). Chat: the model's own chat template when its GGUF has one, otherwise the plain
 * plain text of render-prompt.ts.
 */
export function renderInput(local: LocalModel, input: GenerationInput): RenderedPrompt {
  const { model } = local;
  if (input.kind === 'chat' && local.chatWrapper) {
    const state = local.chatWrapper.generateContextState({
      chatHistory: toHistory(input.messages),
    });
    return {
      tokens: state.contextText.tokenize(model.tokenizer),
      stops: state.stopGenerationTriggers.map(plainText).filter((s): s is string => !!s),
      trimLeadingSpace: false,
    };
  }
  const text = input.kind === 'text' ? input.prompt : renderChat(input.messages);
  const tokens = model.tokenize(text);
  const bos = model.tokens.bos;
  if (model.tokens.shouldPrependBosToken && bos !== null) tokens.unshift(bos);
  return input.kind === 'text'
    ? { tokens, stops: [], trimLeadingSpace: false }
    : { tokens, stops: [], trimLeadingSpace: true };
}
