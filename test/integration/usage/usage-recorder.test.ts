import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { Storage } from '../../../src/domain/ports.js';
import { UsageRecorder } from '../../../src/domain/usage/usage-recorder.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines } from '../storage/engines.js';
import type { Engine, StorageHarness } from '../storage/engines.js';
import { openWithExecutor } from '../storage/identity-fixtures.js';
import { recordingLogger } from '../storage/recording-logger.js';
import {
  countingWriter,
  dailyTotals,
  newUsage,
  rawCount,
  requestIds,
  totalsFromRaw,
  waitFor,
} from './fixtures.js';

const NEVER_MS = 3_600_000;

function recorderSuite(engine: Engine): void {
  let harness: StorageHarness;
  let storage: Storage;
  let executor: SqlExecutor;
  const recorders: UsageRecorder[] = [];

  function recorder(...args: ConstructorParameters<typeof UsageRecorder>): UsageRecorder {
    const created = new UsageRecorder(...args);
    recorders.push(created);
    return created;
  }

  beforeAll(async () => {
    harness = await engine.create();
    ({ storage, executor } = await openWithExecutor(harness));
  });

  afterEach(async () => {
    await Promise.all(recorders.splice(0).map((r) => r.close()));
    // Each test counts from zero. As the superuser, past the policies and the missing grant.
    await executor.query('truncate usage_records, usage_daily');
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('writes a full batch at once, with one call per batch, and leaves the rest buffered', async () => {
    const writer = countingWriter(() => storage.usage);
    const usage = recorder(writer, silentLogger, { maxBatch: 5, flushIntervalMs: NEVER_MS });

    for (let i = 0; i < 4; i += 1) usage.record(newUsage());
    await sleep(100);
    expect(writer.batches).toEqual([]);
    expect(await rawCount(executor)).toBe(0);

    for (let i = 0; i < 8; i += 1) usage.record(newUsage());
    await waitFor(async () => (await rawCount(executor)) === 10, 'two full batches');
    expect(writer.batches).toEqual([5, 5]);
    expect(usage.buffered).toBe(2);

    await usage.flush();
    expect(writer.batches).toEqual([5, 5, 2]);
    expect(await rawCount(executor)).toBe(12);
    expect(await dailyTotals(executor)).toEqual(await totalsFromRaw(executor));
  });

  it('writes whatever is buffered every flushIntervalMs', async () => {
    const writer = countingWriter(() => storage.usage);
    const usage = recorder(writer, silentLogger, { maxBatch: 500, flushIntervalMs: 50 });

    for (let i = 0; i < 3; i += 1) usage.record(newUsage());
    expect(usage.buffered).toBe(3);
    await waitFor(async () => (await rawCount(executor)) === 3, 'the timed write');
    expect(writer.batches).toEqual([3]);
    expect(usage.buffered).toBe(0);
  });

  it('stamps each record when it is recorded, not when the batch is written', async () => {
    let now = Date.parse('2024-03-09T23:59:59.900Z');
    const usage = recorder(storage.usage, silentLogger, {
      flushIntervalMs: NEVER_MS,
      now: () => now,
    });
    usage.record(newUsage({ requestId: 'req_before_midnight' }));
    now = Date.parse('2024-03-10T00:00:00.100Z');
    usage.record(newUsage({ requestId: 'req_after_midnight' }));
    await usage.flush();

    expect((await storage.usage.findByRequestId('req_before_midnight'))?.createdAt).toEqual(
      new Date('2024-03-09T23:59:59.900Z'),
    );
    expect((await dailyTotals(executor)).map((row) => [row.day, row.requests])).toEqual([
      ['2024-03-09', 1],
      ['2024-03-10', 1],
    ]);
  });

  it('close() stops the timer and writes everything, in batches of maxBatch', async () => {
    const writer = countingWriter(() => storage.usage);
    const usage = recorder(writer, silentLogger, { maxBatch: 500, flushIntervalMs: NEVER_MS });
    const recorded = Array.from({ length: 1234 }, (_, i) =>
      newUsage({ requestId: `req_close_${String(i).padStart(4, '0')}`, promptTokens: i }),
    );
    // All at once, as a burst would arrive: the size trigger writes two batches meanwhile.
    for (const record of recorded) usage.record(record);

    await usage.close();

    expect(usage.buffered).toBe(0);
    expect(writer.batches).toEqual([500, 500, 234]);
    expect(await requestIds(executor)).toEqual(recorded.map((record) => record.requestId));
    const [totals] = await dailyTotals(executor);
    expect(totals).toMatchObject({ requests: 1234, prompt_tokens: (1233 * 1234) / 2 });
  });

  it('skips a completion id already recorded without failing the rest of the batch', async () => {
    const first = newUsage();
    await storage.usage.record(first);
    const usage = recorder(storage.usage, silentLogger, { flushIntervalMs: NEVER_MS });
    const again = newUsage();
    usage.record(newUsage({ completionId: first.completionId, promptTokens: 999 }));
    usage.record(again);
    usage.record(newUsage({ completionId: again.completionId, promptTokens: 999 }));
    usage.record(newUsage());

    await usage.flush();

    expect(await rawCount(executor)).toBe(3);
    expect((await storage.usage.findByCompletionId(first.completionId))?.promptTokens).toBe(10);
    expect((await storage.usage.findByCompletionId(again.completionId))?.promptTokens).toBe(10);
    expect(await dailyTotals(executor)).toEqual(await totalsFromRaw(executor));
    expect((await dailyTotals(executor))[0]?.requests).toBe(3);
  });

  it('counts every completion once however the callers chose their request ids', async () => {
    const usage = recorder(storage.usage, silentLogger, { flushIntervalMs: NEVER_MS });
    // One caller reusing an id for 100 requests, another caller's request sent with that id
    // first: neither may merge, skip or suppress a record.
    usage.record(newUsage({ requestId: 'req_shared', organizationId: 'org_usagetest_b' }));
    await usage.flush();
    const batch = Array.from({ length: 100 }, () =>
      newUsage({ requestId: 'req_shared', promptTokens: 1, completionTokens: 2 }),
    );
    for (const record of batch) usage.record(record);
    await usage.flush();
    // A batch sent again after a lost commit still adds nothing.
    await storage.usage.recordMany(batch.map((record) => ({ ...record, createdAt: new Date() })));

    expect(await rawCount(executor)).toBe(101);
    const totals = await dailyTotals(executor);
    expect(totals.map((row) => [row.organization_id, row.requests])).toEqual([
      ['org_usagetest_a', 100],
      ['org_usagetest_b', 1],
    ]);
    expect(totals[0]).toMatchObject({ prompt_tokens: 100, completion_tokens: 200 });
    expect(totals).toEqual(await totalsFromRaw(executor));
  });

  it('drops a row the database refuses and writes the rest of its batch', async () => {
    const logger = recordingLogger();
    const usage = recorder(storage.usage, logger, { flushIntervalMs: NEVER_MS });
    const bad = newUsage({ promptTokens: -1 });
    const good = [newUsage(), newUsage(), newUsage()];
    usage.record(good[0] ?? newUsage());
    usage.record(bad);
    usage.record(good[1] ?? newUsage());
    usage.record(good[2] ?? newUsage());

    await usage.flush();

    expect(await requestIds(executor)).toEqual(good.map((r) => r.requestId).sort());
    expect(usage.buffered).toBe(0);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        obj: expect.objectContaining({ request_id: bad.requestId }),
      }),
    );
  });

  it('past maxBuffered drops the oldest rows and logs an error with the count', async () => {
    let current = storage;
    const writer = countingWriter(() => current.usage);
    const logger = recordingLogger();
    const usage = recorder(writer, logger, {
      maxBatch: 5,
      maxBuffered: 10,
      flushIntervalMs: NEVER_MS,
      retryBaseMs: NEVER_MS,
    });
    // The database goes away under the recorder; PGlite allows one open instance per directory.
    await storage.close();
    const recorded = Array.from({ length: 15 }, (_, i) =>
      newUsage({ requestId: `req_bound_${String(i).padStart(2, '0')}` }),
    );
    for (const record of recorded) usage.record(record);
    await waitFor(async () => writer.batches.length === 1, 'the failed size-triggered write');
    await sleep(50);
    expect(usage.buffered).toBe(10);

    ({ storage, executor } = await openWithExecutor(harness));
    current = storage;
    await usage.close();

    const newest = recorded.slice(5).map((record) => record.requestId);
    expect(await requestIds(executor)).toEqual(newest);
    const drops = logger.entries.filter(
      (entry) => entry.level === 'error' && 'dropped' in entry.obj,
    );
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.reduce((sum, entry) => sum + Number(Reflect.get(entry.obj, 'dropped')), 0)).toBe(
      5,
    );
  });
}

describe.each(engines)('usage recorder on $name', (engine) => {
  recorderSuite(engine);
});
