import type { FinishReason, TokenUsage } from '../../domain/ports.js';

const FINISH_REASONS: ReadonlySet<string> = new Set<FinishReason>([
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'function_call',
]);

/**
 * A choice's finish reason as the domain names it, undefined while the choice goes on. A reason
 * newer than this code is an ordinary end (`stop`): the client still sees the upstream's own.
 */
export function finishReasonOf(reason: unknown): FinishReason | undefined {
  if (typeof reason !== 'string' || reason === '') return undefined;
  return FINISH_REASONS.has(reason) ? (reason as FinishReason) : 'stop';
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object'
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** What an OpenAI `usage` object reports; any count it leaves out (or garbles) is undefined. */
export type ReportedUsage = { [K in keyof TokenUsage]?: number };

export function reportedUsage(usage: unknown): ReportedUsage | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const reported: ReportedUsage = {};
  const promptTokens = count(field(usage, 'prompt_tokens'));
  const completionTokens = count(field(usage, 'completion_tokens'));
  const cachedTokens = count(field(field(usage, 'prompt_tokens_details'), 'cached_tokens'));
  const reasoningTokens = count(
    field(field(usage, 'completion_tokens_details'), 'reasoning_tokens'),
  );
  if (promptTokens !== undefined) reported.promptTokens = promptTokens;
  if (completionTokens !== undefined) reported.completionTokens = completionTokens;
  if (cachedTokens !== undefined) reported.cachedTokens = cachedTokens;
  if (reasoningTokens !== undefined) reported.reasoningTokens = reasoningTokens;
  return reported;
}

/** The upstream's counts where it reported them; the (lazy, o200k) estimates stand in for the rest. */
export function tokenUsage(
  reported: ReportedUsage | undefined,
  estimate: () => Pick<TokenUsage, 'promptTokens' | 'completionTokens'>,
): TokenUsage {
  const { promptTokens, completionTokens, ...details } = reported ?? {};
  if (promptTokens !== undefined && completionTokens !== undefined) {
    return { promptTokens, completionTokens, ...details };
  }
  const estimated = estimate();
  return {
    promptTokens: promptTokens ?? estimated.promptTokens,
    completionTokens: completionTokens ?? estimated.completionTokens,
    ...details,
  };
}
