import { cacheKey, isCacheable, type CachedCompletion } from '../../cache/response-cache.js';
import type { Logger } from '../../logger.js';
import type { Tracing } from '../../observability.js';
import type { GenerationEvent } from '../../ports.js';
import { chatCacheKeyPart } from '../chat-cache.js';
import type { CompletionCacheSettings, CompletionContext, CompletionParams } from './types.js';

/**
 * The key a request's answer is kept under, or null when it must not be served from the cache:
 * no cache, the client opted out, a sampled request, or a chat request whose answer the cache
 * cannot hold (see chatCacheKeyPart).
 */
export function cacheKeyFor(
  settings: CompletionCacheSettings | undefined,
  ctx: CompletionContext,
  params: CompletionParams,
): string | null {
  if (!settings || params.cacheMode === 'bypass' || !isCacheable(params.temperature)) return null;
  const request = params.chat ? chatCacheKeyPart(params.chat) : undefined;
  if (request === null) return null;
  return cacheKey({
    scope: ctx.principal.organizationId ?? `principal:${ctx.principal.id}`,
    endpoint: params.endpoint,
    model: params.model,
    input: params.input,
    maxTokens: params.maxTokens,
    topP: params.topP,
    stop: params.stop,
    ...(params.seed === undefined ? {} : { seed: params.seed }),
    ...(request === undefined ? {} : { request }),
  });
}

export function lookUp(
  settings: CompletionCacheSettings,
  key: string,
  tracing: Tracing,
): Promise<CachedCompletion | null> {
  return tracing.span('response cache lookup', {}, async (span) => {
    const found = await settings.store.get(key);
    span.setAttributes({ 'inference.cache.hit': found !== null });
    return found;
  });
}

/** A cached answer as the events a generation would have produced. */
export function replayOf(hit: CachedCompletion): {
  first: GenerationEvent;
  rest: AsyncIterator<GenerationEvent>;
} {
  const done: GenerationEvent = { type: 'done', finishReason: hit.finishReason, usage: hit.usage };
  const events: GenerationEvent[] =
    hit.text === '' ? [done] : [{ type: 'text', text: hit.text }, done];
  const [first, ...rest] = events as [GenerationEvent, ...GenerationEvent[]];
  return { first, rest: replay(rest) };
}

async function* replay(events: GenerationEvent[]): AsyncGenerator<GenerationEvent> {
  yield* events;
}

/**
 * Collects a generated answer for the cache, which holds text, a finish reason and usage only:
 * an answer that called a tool, refused, or came relayed with more than text is not kept.
 */
export class CacheWriter {
  private text = '';
  private holdable = true;

  constructor(
    private readonly settings: CompletionCacheSettings,
    private readonly key: string,
    private readonly logger: Logger,
  ) {}

  add(event: GenerationEvent): void {
    if (event.type === 'text') this.text += event.text;
    else if (event.type === 'relay' && onlyText(event.data)) this.text += event.text;
    else if (event.type !== 'done') this.holdable = false;
  }

  /** Never fails the generation: a cache is an optimisation. */
  async finish(done: Extract<GenerationEvent, { type: 'done' }>): Promise<void> {
    if (!this.holdable || (done.finishReason !== 'stop' && done.finishReason !== 'length')) return;
    const value = { text: this.text, finishReason: done.finishReason, usage: done.usage };
    try {
      await this.settings.store.set(this.key, value, this.settings.ttlSeconds);
    } catch (error) {
      this.logger.warn({ err: error }, 'response cache store failed');
    }
  }
}

const TEXT_ONLY_KEYS = new Set(['role', 'content']);

/** A relayed answer or chunk whose choices carry only (index 0) text and nulls. */
function onlyText(data: Record<string, unknown>): boolean {
  const choices = data.choices;
  if (!Array.isArray(choices)) return false;
  return choices.every((choice: Record<string, unknown>) => {
    if (choice.index !== 0 || choice.logprobs != null) return false;
    const body = (choice.message ?? choice.delta ?? {}) as Record<string, unknown>;
    return Object.entries(body).every(
      ([key, value]) => value == null || isEmptyList(value) || TEXT_ONLY_KEYS.has(key),
    );
  });
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}
