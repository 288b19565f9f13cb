import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../../src/providers/anthropic/index.js';
import { createOpenAICompatibleProvider } from '../../../src/providers/openai-compatible/index.js';
import type {
  UpstreamModelProvider,
  UpstreamOptions,
} from '../../../src/providers/shared/upstream-runtime.js';
import {
  FAKE_SECRET,
  type FakeUpstream,
  fakeModes,
  startFakeAnthropic,
  startFakeOpenAI,
} from '../../support/fake-upstreams/index.js';
import {
  chatBodyRequest,
  chatRequest,
  collect,
  expectAppError,
  recordingLogger,
  type RecordingLogger,
  within,
} from './helpers.js';

type Overrides = Partial<Omit<UpstreamOptions, 'name' | 'baseUrl' | 'logger'>>;

const API_KEY = 'sk-test-key-abcdef123456';

const flavours = [
  {
    name: 'openai-compatible',
    start: () => startFakeOpenAI(),
    create: (url: string, logger: RecordingLogger, options: Overrides) =>
      createOpenAICompatibleProvider({
        name: 'fake-openai',
        baseUrl: url,
        apiKey: API_KEY,
        logger,
        ...options,
      }),
  },
  {
    name: 'anthropic',
    start: () => startFakeAnthropic(),
    create: (url: string, logger: RecordingLogger, options: Overrides) =>
      createAnthropicProvider({
        name: 'fake-anthropic',
        baseUrl: url,
        apiKey: API_KEY,
        logger,
        ...options,
      }),
  },
];

/** Fast backoff so that retry tests take milliseconds, not seconds. */
const FAST_RETRY: Overrides = { retry: { baseDelayMs: 20, maxDelayMs: 100 } };

describe.each(flavours)('$name provider under failure', (flavour) => {
  let fake: FakeUpstream;
  let logger: RecordingLogger;
  const providers: UpstreamModelProvider[] = [];
  const make = (options: Overrides = {}): UpstreamModelProvider => {
    const provider = flavour.create(fake.url, logger, options);
    providers.push(provider);
    return provider;
  };

  beforeEach(async () => {
    fake = await flavour.start();
    logger = recordingLogger();
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((provider) => provider.close()));
    await fake.close();
  });

  describe('retries', () => {
    it('retries 500s with backoff and succeeds', async () => {
      fake.setMode(fakeModes.failThenSucceed(2));
      const started = performance.now();
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      const elapsed = performance.now() - started;
      expect(result.error).toBeUndefined();
      expect(result.done?.finishReason).toBe('stop');
      expect(fake.requests).toHaveLength(3);
      // Full jitter: each wait is below its ceiling (20 ms, then 40 ms).
      expect(elapsed).toBeLessThan(20 + 40 + 1_000);
    });

    it('honours Retry-After on 429', async () => {
      fake.setMode(fakeModes.rateLimited(1, '1'));
      const started = performance.now();
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      const elapsed = performance.now() - started;
      expect(result.error).toBeUndefined();
      expect(fake.requests).toHaveLength(2);
      expect(elapsed).toBeGreaterThanOrEqual(950);
      expect(elapsed).toBeLessThan(1_000 + 1_500);
    });

    it('honours retry-after-ms', async () => {
      fake.setMode({ fail: { status: 429, times: 1, retryAfterMs: '300' } });
      const started = performance.now();
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      expect(result.error).toBeUndefined();
      expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    });

    it('gives up at once when Retry-After is beyond the remaining budget', async () => {
      fake.setMode(fakeModes.rateLimited(1, '30'));
      const started = performance.now();
      const result = await collect(
        make(FAST_RETRY).generate(chatRequest(undefined, { timeoutMs: 5_000 })),
      );
      expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(fake.requests).toHaveLength(1);
      expect(performance.now() - started).toBeLessThan(1_000);
    });

    it('gives up at once on a Retry-After beyond the cap, whatever the budget', async () => {
      fake.setMode(fakeModes.rateLimited(1, '240'));
      const result = await collect(
        make(FAST_RETRY).generate(chatRequest(undefined, { timeoutMs: 600_000 })),
      );
      expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(fake.requests).toHaveLength(1);
      const failure = logger.entries.find((entry) => entry.msg === 'upstream request failed');
      expect(failure?.obj).toMatchObject({ status: 429, retryInMs: undefined });
    });

    it('stops after maxRetries', async () => {
      fake.setMode({ fail: { status: 503 } });
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(fake.requests).toHaveLength(3);
    });

    it('does not retry a 400, and neither the error nor the log holds the upstream secret', async () => {
      fake.setMode(fakeModes.badRequest());
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      const error = expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(fake.requests).toHaveLength(1);
      expect(error.message).toMatch(/rejected the request \(HTTP 400\)/);
      const exposed = JSON.stringify({ message: error.message, error, headers: error.headers });
      expect(exposed).not.toContain(FAKE_SECRET);
      expect(exposed).not.toContain('127.0.0.1');
      expect(exposed).not.toMatch(/maximum/);
      const logged = JSON.stringify(logger.entries);
      expect(logged).toContain('upstream request failed');
      expect(logged).not.toContain(FAKE_SECRET);
      expect(logged).not.toContain(API_KEY);
    });

    it('does not retry once text was yielded: a dropped stream fails mid-way', async () => {
      fake.setMode(fakeModes.dropMidStream(3));
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      expect(result.texts).toHaveLength(3);
      expect(result.done).toBeUndefined();
      const error = expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(error.message).toMatch(/mid-stream/);
      expect(fake.requests).toHaveLength(1);
    });

    it('retries a connection dropped before any text', async () => {
      fake.queueModes(fakeModes.dropMidStream(0));
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      expect(result.error).toBeUndefined();
      expect(result.done?.finishReason).toBe('stop');
      expect(fake.requests).toHaveLength(2);
      expect(fake.requests[0]?.droppedByServer).toBe(true);
    });

    it('retries connect errors, then reports UPSTREAM_ERROR', async () => {
      const closedUrl = fake.url;
      await fake.close();
      const provider = flavour.create(closedUrl, logger, FAST_RETRY);
      providers.push(provider);
      const result = await collect(provider.generate(chatRequest()));
      expectAppError(result.error, 'UPSTREAM_ERROR');
      const failures = logger.entries.filter((entry) => entry.msg === 'upstream request failed');
      expect(failures.map((entry) => (entry.obj as { kind: string }).kind)).toEqual([
        'connect',
        'connect',
        'connect',
      ]);
      fake = await flavour.start();
    });

    it('fails mid-way on an in-stream error event after text', async () => {
      fake.setMode({ errorEventAfterChunks: 2 });
      const result = await collect(make(FAST_RETRY).generate(chatRequest()));
      expect(result.texts).toHaveLength(2);
      expect(result.done).toBeUndefined();
      expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(JSON.stringify(result.error)).not.toContain(FAKE_SECRET);
      expect(fake.requests).toHaveLength(1);
    });
  });

  describe('timeouts', () => {
    it('times out waiting for the first byte, without retrying', async () => {
      fake.setMode(fakeModes.slowFirstByte(5_000));
      const started = performance.now();
      const result = await collect(
        make({ ...FAST_RETRY, firstByteTimeoutMs: 300 }).generate(chatRequest()),
      );
      const elapsed = performance.now() - started;
      expectAppError(result.error, 'UPSTREAM_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(2_000);
      expect(fake.requests).toHaveLength(1);
      await within(fake.requests[0]!.closed, 2_000, 'upstream request close');
      expect(fake.requests[0]?.abortedByClient).toBe(true);
    });

    it('times out an upstream that never answers within the request budget', async () => {
      fake.setMode(fakeModes.neverAnswer());
      const started = performance.now();
      const result = await collect(
        make(FAST_RETRY).generate(chatRequest(undefined, { timeoutMs: 500 })),
      );
      const elapsed = performance.now() - started;
      expectAppError(result.error, 'UPSTREAM_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(480);
      expect(elapsed).toBeLessThan(2_500);
    });

    it('ends a stream that outlasts the budget with a timeout after its text', async () => {
      fake.setMode(fakeModes.slowStream(150));
      const result = await collect(
        make(FAST_RETRY).generate(chatRequest(undefined, { timeoutMs: 500 })),
      );
      expect(result.texts.length).toBeGreaterThan(0);
      expect(result.done).toBeUndefined();
      expectAppError(result.error, 'UPSTREAM_TIMEOUT');
    });
  });

  describe('client abort', () => {
    it('closes the upstream request when the client leaves mid-stream', async () => {
      fake.setMode(fakeModes.slowStream(100));
      const controller = new AbortController();
      const events = make().generate(chatRequest(undefined, { signal: controller.signal }));
      const iterator = events[Symbol.asyncIterator]();
      expect((await iterator.next()).value).toMatchObject({ type: 'text' });
      expect((await iterator.next()).value).toMatchObject({ type: 'text' });
      controller.abort(new Error('client went away'));
      // No further pull: the abort alone must reach the upstream.
      await within(fake.requests[0]!.closed, 2_000, 'upstream request close');
      expect(fake.requests[0]?.abortedByClient).toBe(true);
      await expect(iterator.next()).rejects.toThrow('client went away');
    });

    it('closes the upstream request when the client leaves before the headers', async () => {
      fake.setMode(fakeModes.slowFirstByte(5_000));
      const controller = new AbortController();
      const pending = collect(
        make().generate(chatRequest(undefined, { signal: controller.signal })),
      );
      await fake.waitForRequests(1);
      controller.abort(new Error('client went away'));
      const result = await within(pending, 2_000, 'generation end');
      expect((result.error as Error).message).toBe('client went away');
      await within(fake.requests[0]!.closed, 2_000, 'upstream request close');
      expect(fake.requests[0]?.abortedByClient).toBe(true);
    });

    it('closes the upstream request when the consumer stops iterating', async () => {
      fake.setMode(fakeModes.slowStream(100));
      for await (const event of make().generate(chatRequest())) {
        if (event.type === 'text') break;
      }
      await within(fake.requests[0]!.closed, 2_000, 'upstream request close');
      expect(fake.requests[0]?.abortedByClient).toBe(true);
    });
  });

  describe('circuit breaker', () => {
    it('opens after N failures, refuses without a network call, half-opens and closes', async () => {
      let now = 1_000_000;
      const provider = make({
        maxRetries: 0,
        breaker: { failureThreshold: 3, cooldownMs: 30_000 },
        now: () => now,
      });
      fake.setMode({ fail: { status: 500 } });
      for (let attempt = 0; attempt < 3; attempt += 1) {
        expectAppError((await collect(provider.generate(chatRequest()))).error, 'UPSTREAM_ERROR');
      }
      expect(provider.circuitState('fake-model')).toBe('open');
      const refused = await collect(provider.generate(chatRequest()));
      expect(expectAppError(refused.error, 'UPSTREAM_ERROR').message).toBe(
        'Upstream temporarily unavailable (circuit open)',
      );
      expect(fake.requests).toHaveLength(3);
      // Other models of the same provider have their own circuit.
      expect(provider.circuitState('other-model')).toBe('closed');

      now += 30_000;
      expect(provider.circuitState('fake-model')).toBe('half-open');
      fake.setMode({});
      const probe = await collect(provider.generate(chatRequest()));
      expect(probe.error).toBeUndefined();
      expect(fake.requests).toHaveLength(4);
      expect(provider.circuitState('fake-model')).toBe('closed');
      expect(provider.circuitStates()).toEqual({ 'fake-model': 'closed', 'other-model': 'closed' });
    });

    it('re-opens when the half-open probe fails', async () => {
      let now = 1_000_000;
      const provider = make({
        maxRetries: 0,
        breaker: { failureThreshold: 2, cooldownMs: 1_000 },
        now: () => now,
      });
      fake.setMode({ fail: { status: 502 } });
      await collect(provider.generate(chatRequest()));
      await collect(provider.generate(chatRequest()));
      expect(provider.circuitState('fake-model')).toBe('open');
      now += 1_000;
      await collect(provider.generate(chatRequest()));
      expect(fake.requests).toHaveLength(3);
      expect(provider.circuitState('fake-model')).toBe('open');
      await collect(provider.generate(chatRequest()));
      expect(fake.requests).toHaveLength(3);
    });

    it('does not count the caller’s own bad requests against the upstream', async () => {
      const provider = make({ maxRetries: 0, breaker: { failureThreshold: 2 } });
      fake.setMode(fakeModes.badRequest());
      for (let attempt = 0; attempt < 4; attempt += 1)
        await collect(provider.generate(chatRequest()));
      expect(provider.circuitState('fake-model')).toBe('closed');
      expect(fake.requests).toHaveLength(4);
    });
  });

  it('leaves the body in the socket while the consumer does not pull (back-pressure)', async () => {
    fake.setMode(fakeModes.large(5_000, 4_096));
    const events = make().generate(chatRequest(undefined, { maxTokens: 10_000 }));
    const iterator = events[Symbol.asyncIterator]();
    for (let pulled = 0; pulled < 3; pulled += 1) {
      expect((await iterator.next()).value).toMatchObject({ type: 'text' });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [record] = fake.requests;
    expect(record?.chunksPlanned).toBe(5_000);
    expect(record?.writesBlocked).toBeGreaterThan(0);
    // About 20 MB were to be sent; only what fits in the socket buffers may have left the fake.
    expect(record?.chunksWritten).toBeLessThan(2_500);
    await iterator.return?.(undefined);
    await within(record!.closed, 2_000, 'upstream request close');
  });
});

describe.each([
  { stream: false, label: 'non-streamed' },
  { stream: true, label: 'streamed' },
])('OpenAI-compatible provider forwarding a $label chat body under failure', ({ stream }) => {
  let fake: FakeUpstream;
  let logger: RecordingLogger;
  const providers: UpstreamModelProvider[] = [];
  const make = (options: Overrides = {}): UpstreamModelProvider => {
    const provider = createOpenAICompatibleProvider({
      name: 'fake-openai',
      baseUrl: fake.url,
      apiKey: API_KEY,
      logger,
      ...FAST_RETRY,
      ...options,
    });
    providers.push(provider);
    return provider;
  };
  const request = (overrides: Parameters<typeof chatBodyRequest>[1] = {}) =>
    chatBodyRequest({ messages: [{ role: 'user', content: 'Hello' }], stream }, overrides);

  beforeEach(async () => {
    fake = await startFakeOpenAI();
    logger = recordingLogger();
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((provider) => provider.close()));
    await fake.close();
  });

  it('retries 500s and relays the answer that follows', async () => {
    fake.setMode(fakeModes.failThenSucceed(2));
    const result = await collect(make().generate(request()));
    expect(result.error).toBeUndefined();
    expect(result.relays.length).toBeGreaterThan(0);
    expect(result.done?.finishReason).toBe('stop');
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests.every((sent) => sent.rawBody === fake.requests[0]?.rawBody)).toBe(true);
  });

  it('does not retry a 400 and keeps the upstream secret out of the error', async () => {
    fake.setMode(fakeModes.badRequest());
    const result = await collect(make().generate(request()));
    const error = expectAppError(result.error, 'UPSTREAM_ERROR');
    expect(error.message).toMatch(/rejected the request \(HTTP 400\)/);
    expect(JSON.stringify({ message: error.message, error })).not.toContain(FAKE_SECRET);
    expect(fake.requests).toHaveLength(1);
  });

  it('times out waiting for the first byte, without retrying', async () => {
    fake.setMode(fakeModes.slowFirstByte(5_000));
    const result = await collect(make({ firstByteTimeoutMs: 300 }).generate(request()));
    expectAppError(result.error, 'UPSTREAM_TIMEOUT');
    expect(fake.requests).toHaveLength(1);
    await within(fake.requests[0]!.closed, 2_000, 'upstream request close');
    expect(fake.requests[0]?.abortedByClient).toBe(true);
  });

  it('opens the circuit after N failures and refuses without a network call', async () => {
    const provider = make({ maxRetries: 0, breaker: { failureThreshold: 2 } });
    fake.setMode({ fail: { status: 503 } });
    for (let attempt = 0; attempt < 2; attempt += 1) await collect(provider.generate(request()));
    expect(provider.circuitState('fake-model')).toBe('open');
    const refused = await collect(provider.generate(request()));
    expect(expectAppError(refused.error, 'UPSTREAM_ERROR').message).toMatch(/circuit open/);
    expect(fake.requests).toHaveLength(2);
  });

  it('closes the upstream request when the client leaves before the headers', async () => {
    fake.setMode(fakeModes.slowFirstByte(5_000));
    const controller = new AbortController();
    const pending = collect(make().generate(request({ signal: controller.signal })));
    await fake.waitForRequests(1);
    controller.abort(new Error('client went away'));
    const result = await within(pending, 2_000, 'generation end');
    expect((result.error as Error).message).toBe('client went away');
    await within(fake.requests[0]!.closed, 2_000, 'upstream request close');
    expect(fake.requests[0]?.abortedByClient).toBe(true);
  });

  // The fake cuts only streams; a JSON answer is all or nothing.
  it.runIf(stream)(
    'retries a stream cut after its role chunk, not one cut after content',
    async () => {
      fake.queueModes(fakeModes.dropMidStream(0));
      const retried = await collect(make().generate(request()));
      expect(retried.error).toBeUndefined();
      expect(fake.requests).toHaveLength(2);
      // The role chunk of the lost attempt was held back, so the client sees it once.
      expect(
        retried.relays.filter((chunk) => JSON.stringify(chunk).includes('"role"')),
      ).toHaveLength(1);
      fake.reset();
      fake.setMode(fakeModes.dropMidStream(3));
      const cut = await collect(make().generate(request()));
      // The role chunk and three content chunks reached the client; nothing is sent twice.
      expect(cut.relays).toHaveLength(4);
      expect(expectAppError(cut.error, 'UPSTREAM_ERROR').message).toMatch(/mid-stream/);
      expect(fake.requests).toHaveLength(1);
    },
  );
});
