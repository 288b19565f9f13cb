import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import type { GenerationEvent, ModelRoute, UpstreamTarget } from '../../../src/domain/ports.js';
import { builtInRoutes } from '../../../src/domain/routing/built-in-routes.js';
import {
  ModelRouter,
  type AttemptInfo,
  type RoutedRequest,
} from '../../../src/domain/routing/model-router.js';
import {
  ScriptedProvider,
  answers,
  failsAfter,
  failsWith,
  providerMap,
} from './scripted-provider.js';

function row(provider: string, model: string, weight = 1, timeoutMs = 1000): UpstreamTarget {
  return { provider, model, weight, timeoutMs };
}

function route(id: string, targets: UpstreamTarget[], fallbacks: UpstreamTarget[] = []) {
  return { id, ownedBy: 'team', created: 1, targets, fallbacks } satisfies ModelRoute;
}

function request(signal: AbortSignal = new AbortController().signal): RoutedRequest {
  return {
    input: { kind: 'text', prompt: 'hi' },
    maxTokens: 16,
    temperature: 0.7,
    topP: 1,
    stop: [],
    signal,
  };
}

async function collect(events: AsyncIterable<GenerationEvent>) {
  const seen: GenerationEvent[] = [];
  try {
    for await (const event of events) seen.push(event);
    return { seen, error: undefined };
  } catch (error) {
    return { seen, error };
  }
}

const upstreamError = () => new AppError('UPSTREAM_ERROR', { message: 'bad gateway' });
const upstreamTimeout = () => new AppError('UPSTREAM_TIMEOUT');

describe('ModelRouter listing', () => {
  it('lists only the built-in routes whose provider is configured', () => {
    const localOnly = new ModelRouter({
      routes: builtInRoutes(),
      providers: providerMap(new ScriptedProvider('local')),
    });
    expect(localOnly.list()).toEqual([
      {
        id: 'tiny-wordnet',
        ownedBy: 'local',
        created: 1_735_689_600,
        capabilities: { completions: true, embeddings: true },
      },
    ]);

    const withOpenAi = new ModelRouter({
      routes: builtInRoutes(),
      providers: providerMap(new ScriptedProvider('local'), new ScriptedProvider('openai')),
    });
    expect(withOpenAi.list().map((m) => [m.id, m.ownedBy])).toEqual([
      ['tiny-wordnet', 'local'],
      ['gpt-4o', 'openai'],
    ]);
    expect(withOpenAi.get('gpt-4o')?.ownedBy).toBe('openai');
    expect(withOpenAi.get('claude-3-5-sonnet')).toBeUndefined();
  });

  it('drops rows naming unconfigured providers and keeps the route if any row remains', async () => {
    const vllm = new ScriptedProvider('vllm');
    const router = new ModelRouter({
      routes: [route('m', [row('ghost', 'g', 5), row('vllm', 'v')], [row('gone', 'x')])],
      providers: providerMap(vllm),
      random: () => 0,
    });
    expect(router.list().map((m) => m.id)).toEqual(['m']);
    expect(router.describeRoute('m')).toEqual({
      route: route('m', [row('vllm', 'v')]),
      unconfigured: [row('ghost', 'g', 5), row('gone', 'x')],
      servable: true,
    });
    const { seen } = await collect(router.generate('m', request()));
    expect(seen[0]).toEqual({ type: 'text', text: 'from vllm' });
    expect(vllm.calls).toHaveLength(1);
  });

  it('lists a route served only by its fallbacks', () => {
    const router = new ModelRouter({
      routes: [route('m', [row('ghost', 'g')], [row('vllm', 'v')])],
      providers: providerMap(new ScriptedProvider('vllm')),
    });
    expect(router.list().map((m) => m.id)).toEqual(['m']);
  });

  it('rejects an unknown or unservable model as a validation error on "model"', () => {
    const router = new ModelRouter({
      routes: builtInRoutes(),
      providers: providerMap(new ScriptedProvider('local')),
    });
    for (const id of ['nope', 'gpt-4o']) {
      const error = captureSync(() => router.resolve(id));
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'VALIDATION_ERROR', param: 'model' });
      expect((error as AppError).details[0]?.issue).toBe(
        `Unknown model "${id}"; see GET /v1/models`,
      );
      // Before anything is iterated, so no stream ever starts for a bad model.
      expect(captureSync(() => router.generate(id, request()))).toMatchObject({
        code: 'VALIDATION_ERROR',
      });
    }
    expect(router.describeRoute('gpt-4o')?.servable).toBe(false);
    expect(router.describeRoute('nope')).toBeUndefined();
  });

  it('refuses a table with a duplicate id', () => {
    expect(
      () => new ModelRouter({ routes: [route('m', []), route('m', [])], providers: new Map() }),
    ).toThrow(/Duplicate model route "m"/);
  });

  it('names the configured providers and counts tokens with the first served row', () => {
    const router = new ModelRouter({
      routes: [route('m', [row('ghost', 'g'), row('b', 'x'), row('a', 'y')])],
      providers: providerMap(
        new ScriptedProvider('a', answers(), 3),
        new ScriptedProvider('b', answers(), 9),
      ),
    });
    expect(router.providerNames()).toEqual(['a', 'b']);
    expect(router.countPromptTokens('m', { kind: 'text', prompt: 'x' })).toBe(9);
  });
});

describe('ModelRouter capacity', () => {
  it('puts a route behind the local gate when any served row runs in-process', () => {
    const router = new ModelRouter({
      routes: [
        route('proxied', [row('openai', 'a'), row('vllm', 'b')], [row('anthropic', 'c')]),
        route('in-process', [row('local', 'l')]),
        route('local-fallback', [row('openai', 'a')], [row('local', 'l')]),
        route('local-unconfigured', [row('openai', 'a')], [row('ghost', 'g')]),
      ],
      providers: providerMap(
        new ScriptedProvider('local'),
        new ScriptedProvider('openai'),
        new ScriptedProvider('vllm'),
        new ScriptedProvider('anthropic'),
      ),
    });
    expect(router.capacityOf('proxied')).toBe('upstream');
    expect(router.capacityOf('in-process')).toBe('local');
    expect(router.capacityOf('local-fallback')).toBe('local');
    expect(router.capacityOf('local-unconfigured')).toBe('upstream');
    expect(captureSync(() => router.capacityOf('nope'))).toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });
});

describe('ModelRouter generation', () => {
  it('passes the upstream model and its timeout to the provider', async () => {
    const vllm = new ScriptedProvider('vllm');
    const router = new ModelRouter({
      routes: [route('public', [row('vllm', 'upstream-name', 1, 4321)])],
      providers: providerMap(vllm),
    });
    await collect(router.generate('public', request()));
    expect(vllm.calls[0]).toMatchObject({ model: 'upstream-name', timeoutMs: 4321, maxTokens: 16 });
  });

  it('falls back on UPSTREAM_ERROR and UPSTREAM_TIMEOUT before the first event, in order', async () => {
    const order: string[] = [];
    const failing = (name: string, error: AppError) =>
      new ScriptedProvider(name, (r) => {
        order.push(`${name}:${r.model}`);
        return failsWith(error)(r);
      });
    const served = new ScriptedProvider('f2', (r) => {
      order.push(`f2:${r.model}`);
      return answers('ok')(r);
    });
    const attempts: AttemptInfo[] = [];
    const router = new ModelRouter({
      routes: [
        route(
          'm',
          [row('a', 'a1', 1), row('b', 'b1', 2), row('c', 'c1', 3)],
          [row('f1', 'x'), row('f2', 'y')],
        ),
      ],
      providers: providerMap(
        failing('a', upstreamError()),
        failing('b', upstreamTimeout()),
        failing('c', upstreamError()),
        failing('f1', upstreamTimeout()),
        served,
      ),
      random: () => 0, // picks a; the rest go by weight: c (3), then b (2)
      onAttempt: (info) => attempts.push(info),
    });
    const { seen, error } = await collect(router.generate('m', request()));
    expect(error).toBeUndefined();
    expect(seen.map((e) => e.type)).toEqual(['text', 'done']);
    expect(order).toEqual(['a:a1', 'c:c1', 'b:b1', 'f1:x', 'f2:y']);
    expect(attempts.map((a) => [a.attempt, a.provider, a.fallback, a.outcome])).toEqual([
      [1, 'a', false, 'failed_over'],
      [2, 'c', false, 'failed_over'],
      [3, 'b', false, 'failed_over'],
      [4, 'f1', true, 'failed_over'],
      [5, 'f2', true, 'completed'],
    ]);
    expect(attempts[1]?.error).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(attempts[4]).toMatchObject({ model: 'm', target: 'y' });
    expect(attempts[4]?.error).toBeUndefined();
  });

  it('propagates the last error when every upstream fails', async () => {
    const last = upstreamTimeout();
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')], [row('b', 'b1')])],
      providers: providerMap(
        new ScriptedProvider('a', failsWith(upstreamError())),
        new ScriptedProvider('b', failsWith(last)),
      ),
    });
    const { seen, error } = await collect(router.generate('m', request()));
    expect(seen).toEqual([]);
    expect(error).toBe(last);
  });

  it('never switches upstream after the first event: the error follows the text', async () => {
    const midStream = upstreamError();
    const fallback = new ScriptedProvider('b');
    const outcomes: string[] = [];
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')], [row('b', 'b1')])],
      providers: providerMap(new ScriptedProvider('a', failsAfter(['Hel'], midStream)), fallback),
    });
    const { seen, error } = await collect(
      router.generate('m', request(), { onAttempt: (info) => outcomes.push(info.outcome) }),
    );
    expect(seen).toEqual([{ type: 'text', text: 'Hel' }]);
    expect(error).toBe(midStream);
    expect(fallback.calls).toEqual([]);
    expect(outcomes).toEqual(['failed']);
  });

  it('does not fall back on a validation error', async () => {
    const invalid = new AppError('VALIDATION_ERROR', { message: 'bad stop' });
    const fallback = new ScriptedProvider('b');
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')], [row('b', 'b1')])],
      providers: providerMap(new ScriptedProvider('a', failsWith(invalid)), fallback),
    });
    const { error } = await collect(router.generate('m', request()));
    expect(error).toBe(invalid);
    expect(fallback.calls).toEqual([]);
  });

  it('does not fall back on an error that is not an AppError', async () => {
    const bug = new TypeError('oops');
    const fallback = new ScriptedProvider('b');
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')], [row('b', 'b1')])],
      providers: providerMap(new ScriptedProvider('a', failsWith(bug)), fallback),
    });
    expect((await collect(router.generate('m', request()))).error).toBe(bug);
    expect(fallback.calls).toEqual([]);
  });

  it('does not fall back once the client has gone, even on an upstream error', async () => {
    const client = new AbortController();
    const fallback = new ScriptedProvider('b');
    const attempts: AttemptInfo[] = [];
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')], [row('b', 'b1')])],
      providers: providerMap(
        new ScriptedProvider('a', (r) => {
          client.abort();
          return failsWith(new AppError('UPSTREAM_ERROR', { cause: r.signal.reason }))(r);
        }),
        fallback,
      ),
      onAttempt: (info) => attempts.push(info),
    });
    const { error } = await collect(router.generate('m', request(client.signal)));
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(fallback.calls).toEqual([]);
    expect(attempts.map((a) => a.outcome)).toEqual(['cancelled']);
  });

  it('reports a caller that stops reading as cancelled and still serves on', async () => {
    const outcomes: string[] = [];
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')])],
      providers: providerMap(new ScriptedProvider('a', answers('one', 'two'))),
      onAttempt: (info) => outcomes.push(info.outcome),
    });
    for await (const event of router.generate('m', request())) {
      expect(event).toEqual({ type: 'text', text: 'one' });
      break;
    }
    expect(outcomes).toEqual(['cancelled']);
  });

  it('keeps serving when an attempt listener throws', async () => {
    const router = new ModelRouter({
      routes: [route('m', [row('a', 'a1')])],
      providers: providerMap(new ScriptedProvider('a')),
      onAttempt: () => {
        throw new Error('metrics broke');
      },
    });
    const { seen, error } = await collect(router.generate('m', request()));
    expect(error).toBeUndefined();
    expect(seen.at(-1)?.type).toBe('done');
  });
});

function captureSync(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
