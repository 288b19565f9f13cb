/**
 * EmbeddingService with scripted providers and the real in-memory rate-limit store: admission,
 * fallback and metering exactly once, for an answer, a failure, a client that left and a refusal.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import type { RouteCapabilities } from '../../../src/domain/inference/capabilities.js';
import {
  EmbeddingService,
  type EmbeddingParams,
} from '../../../src/domain/inference/embedding-service.js';
import type {
  EmbeddingProvider,
  EmbeddingRequest,
  EmbeddingResponse,
} from '../../../src/domain/inference/embeddings.js';
import { GenerationGate } from '../../../src/domain/load/generation-gate.js';
import { silentLogger } from '../../../src/domain/logger.js';
import { silentObserver } from '../../../src/domain/observability.js';
import type { ModelRoute, NewUsageRecord } from '../../../src/domain/ports.js';
import type { Principal } from '../../../src/domain/principal.js';
import { RateLimitService } from '../../../src/domain/rate-limit/rate-limit-service.js';
import { ModelRouter } from '../../../src/domain/routing/model-router.js';
import { ScriptedProvider } from '../routing/scripted-provider.js';
import { principal, RecordingRateLimitStore, type Attempted } from './pipeline/harness.js';

type Embed = (request: EmbeddingRequest) => Promise<EmbeddingResponse>;

const COUNTED = 9;

function answer(request: EmbeddingRequest, promptTokens = 4): EmbeddingResponse {
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [1, 0] }],
    model: request.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    extra_field: 'kept',
  };
}

/** A provider that embeds as scripted, or (embed undefined) one that cannot embed at all. */
class EmbeddingScripted extends ScriptedProvider {
  readonly embedCalls: EmbeddingRequest[] = [];
  readonly embeddings?: EmbeddingProvider;

  constructor(name: string, embed: Embed | undefined, dimensions = true) {
    super(name);
    if (embed) {
      this.embeddings = {
        dimensions,
        countTokens: () => COUNTED,
        embed: (request) => {
          this.embedCalls.push(request);
          return embed(request);
        },
      };
    }
  }
}

const upstreamFailure = () => new AppError('UPSTREAM_ERROR', { message: 'down' });

function setup(
  providers: EmbeddingScripted[],
  options: { capabilities?: RouteCapabilities; tokensPerMinute?: number } = {},
) {
  const [target, ...fallbacks] = providers;
  const row = (provider: EmbeddingScripted) => ({
    provider: provider.name,
    model: `${provider.name}-model`,
    weight: 1,
    timeoutMs: 1000,
  });
  const route: ModelRoute = {
    id: 'e',
    ownedBy: 'team',
    created: 1,
    targets: target ? [row(target)] : [],
    fallbacks: fallbacks.map(row),
    capabilities: options.capabilities ?? { completions: false, embeddings: true },
  };
  const router = new ModelRouter({
    routes: [route],
    providers: new Map(providers.map((p) => [p.name, p])),
  });
  const store = new RecordingRateLimitStore();
  const limits = new RateLimitService(store, {
    enabled: true,
    defaults: { requestsPerMinute: 1000, tokensPerMinute: options.tokensPerMinute ?? 100_000 },
    organizationMultiplier: 1,
    addressRequestsPerMinute: 1000,
  });
  const gate = new GenerationGate({
    maxConcurrent: 2,
    maxQueued: 0,
    queueTimeoutMs: 50,
    overload: { reason: () => null },
  });
  const usage: NewUsageRecord[] = [];
  const attempts: Attempted[] = [];
  const service = new EmbeddingService({
    router,
    usage: { record: (record) => void usage.push(record) },
    limits,
    gates: { local: gate, upstream: gate },
    logger: silentLogger,
    observer: { ...silentObserver, upstreamAttempt: (event) => void attempts.push(event) },
  });
  return { service, store, gate, usage, attempts };
}

function params(overrides: Partial<EmbeddingParams> = {}): EmbeddingParams {
  return {
    model: 'e',
    input: { kind: 'text', texts: ['a'] },
    encodingFormat: 'float',
    body: { model: 'e', input: 'a' },
    ...overrides,
  };
}

const ctx = (signal = new AbortController().signal, who: Principal = principal) => ({
  principal: who,
  requestId: 'req-e',
  signal,
});

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

/** Settlement runs after the answer; give it its turn. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('EmbeddingService', () => {
  it('answers with the public id, meters the reported tokens once and settles them', async () => {
    const provider = new EmbeddingScripted('up', async (request) => answer(request));
    const { service, store, gate, usage } = setup([provider]);

    const { response } = await service.create(ctx(), params());
    await settled();

    expect(response).toMatchObject({ model: 'e', extra_field: 'kept' });
    expect(response.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(provider.embedCalls[0]?.model).toBe('up-model');
    expect(provider.embedCalls[0]?.body).toEqual({ model: 'up-model', input: 'a' });
    expect(usage).toEqual([
      expect.objectContaining({
        endpoint: 'embeddings',
        model: 'e',
        promptTokens: 4,
        completionTokens: 0,
        outcome: 'completed',
        stream: false,
      }),
    ]);
    expect(usage[0]?.completionId).toMatch(/^embd-/);
    expect(store.reserved).toEqual([COUNTED]);
    expect(store.settled).toEqual([4]);
    expect(gate.stats().active).toBe(0);
  });

  it('falls back to the next row when one fails with an upstream error', async () => {
    const first = new EmbeddingScripted('first', () => Promise.reject(upstreamFailure()));
    const second = new EmbeddingScripted('second', async (request) => answer(request));
    const { service, usage, attempts } = setup([first, second]);

    await service.create(ctx(), params());

    expect(attempts.map((a) => [a.provider, a.outcome, a.fallback])).toEqual([
      ['first', 'failed_over', false],
      ['second', 'completed', true],
    ]);
    expect(usage.map((u) => u.outcome)).toEqual(['completed']);
  });

  it('meters a failure with no tokens and settles the reservation at zero', async () => {
    const provider = new EmbeddingScripted('up', () => Promise.reject(upstreamFailure()));
    const { service, store, gate, usage } = setup([provider]);

    expect((await failure(service.create(ctx(), params()))).code).toBe('UPSTREAM_ERROR');
    await settled();

    expect(usage).toEqual([expect.objectContaining({ outcome: 'failed', promptTokens: 0 })]);
    expect(store.settled).toEqual([0]);
    expect(gate.stats().active).toBe(0);
  });

  it('meters a client that left as cancelled, charged the tokens it asked for', async () => {
    const controller = new AbortController();
    const provider = new EmbeddingScripted('up', (request) => {
      controller.abort(new Error('client left'));
      return Promise.reject(request.signal.reason as Error);
    });
    const { service, store, usage } = setup([provider]);

    await expect(service.create(ctx(controller.signal), params())).rejects.toBeDefined();
    await settled();

    expect(usage).toEqual([
      expect.objectContaining({ outcome: 'cancelled', promptTokens: COUNTED }),
    ]);
    expect(store.settled).toEqual([COUNTED]);
  });

  it('neither meters nor charges an input the provider itself refuses', async () => {
    const provider = new EmbeddingScripted('up', () =>
      Promise.reject(new AppError('VALIDATION_ERROR', { param: 'input', message: 'too long' })),
    );
    const { service, store, usage } = setup([provider]);

    expect((await failure(service.create(ctx(), params()))).param).toBe('input');
    await settled();

    expect(usage).toEqual([]);
    expect(store.settled).toEqual([0]);
  });

  it.each<[string, () => ReturnType<typeof setup>, Partial<EmbeddingParams>, string]>([
    [
      'a route not declared for embeddings',
      () =>
        setup([new EmbeddingScripted('up', async (r) => answer(r))], {
          capabilities: { completions: true, embeddings: false },
        }),
      {},
      'model',
    ],
    [
      'a route whose providers cannot embed',
      () => setup([new EmbeddingScripted('claude', undefined)]),
      {},
      'model',
    ],
    [
      'dimensions a row cannot honour',
      () =>
        setup([
          new EmbeddingScripted('up', async (r) => answer(r)),
          new EmbeddingScripted('local', async (r) => answer(r), false),
        ]),
      { dimensions: 8 },
      'dimensions',
    ],
    [
      'an unknown model',
      () => setup([new EmbeddingScripted('up', async (r) => answer(r))]),
      { model: 'nope' },
      'model',
    ],
  ])('refuses %s before reserving or sending anything', async (_, make, overrides, field) => {
    const built = make();
    const error = await failure(built.service.create(ctx(), params(overrides)));

    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.param).toBe(field);
    expect(built.store.reserved).toEqual([]);
    expect(built.usage).toEqual([]);
  });

  it('refuses an input longer than the route declares its context window, naming input', async () => {
    const provider = new EmbeddingScripted('up', async (request) => answer(request));
    const fits = setup([provider], {
      capabilities: { completions: false, embeddings: true, contextWindow: COUNTED },
    });
    await fits.service.create(ctx(), params({ input: { kind: 'text', texts: ['a', 'b'] } }));
    expect(provider.embedCalls).toHaveLength(1);

    const tight = setup([provider], {
      capabilities: { completions: false, embeddings: true, contextWindow: COUNTED - 1 },
    });
    const error = await failure(
      tight.service.create(ctx(), params({ input: { kind: 'tokens', tokens: [[1], [2]] } })),
    );
    expect(error.param).toBe('input');
    expect(error.details[0]?.issue).toContain(`Input 0 is about ${COUNTED} tokens long`);
    expect(error.details[0]?.issue).toContain(`${COUNTED - 1}-token context window of model e`);
    expect(tight.store.reserved).toEqual([]);
    expect(provider.embedCalls).toHaveLength(1);
  });

  it('refuses input over the tokens per minute with 429, sending nothing', async () => {
    const provider = new EmbeddingScripted('up', async (request) => answer(request));
    const { service, usage } = setup([provider], { tokensPerMinute: COUNTED - 1 });

    expect((await failure(service.create(ctx(), params()))).code).toBe('RATE_LIMITED');
    expect(provider.embedCalls).toEqual([]);
    expect(usage).toEqual([]);
  });

  it('refuses a credential without completions:write', async () => {
    const provider = new EmbeddingScripted('up', async (request) => answer(request));
    const { service } = setup([provider]);
    const reader: Principal = { ...principal, scopes: new Set(['models:read']) } as Principal;

    expect((await failure(service.create(ctx(undefined, reader), params()))).code).toBe(
      'FORBIDDEN',
    );
    expect(provider.embedCalls).toEqual([]);
  });
});
