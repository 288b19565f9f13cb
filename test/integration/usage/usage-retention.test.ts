import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/domain/ports.js';
import { UsageRetention } from '../../../src/domain/usage/usage-retention.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines } from '../storage/engines.js';
import type { Engine, StorageHarness } from '../storage/engines.js';
import { openWithExecutor } from '../storage/identity-fixtures.js';
import { recordingLogger } from '../storage/recording-logger.js';
import { DAY_MS, dailyTotals, requestIds, timedUsage, waitFor } from './fixtures.js';

const HOUR_MS = 3_600_000;

function retentionSuite(engine: Engine): void {
  let harness: StorageHarness;
  let storage: Storage;
  let executor: SqlExecutor;
  const ago = (ms: number) => new Date(Date.now() - ms);

  beforeAll(async () => {
    harness = await engine.create();
    ({ storage, executor } = await openWithExecutor(harness));
  });

  beforeEach(async () => {
    await executor.query('truncate usage_records, usage_daily');
    await storage.usage.recordMany([
      timedUsage(ago(400 * DAY_MS), { requestId: 'req_400d' }),
      timedUsage(ago(40 * DAY_MS), { requestId: 'req_40d', organizationId: null }),
      timedUsage(ago(30 * DAY_MS + HOUR_MS), { requestId: 'req_30d_1h' }),
      timedUsage(ago(30 * DAY_MS + HOUR_MS), { requestId: 'req_30d_1h_b', model: 'gpt-4o' }),
      timedUsage(ago(30 * DAY_MS - HOUR_MS), { requestId: 'req_29d_23h' }),
      timedUsage(ago(HOUR_MS), { requestId: 'req_1h' }),
    ]);
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('deletes only raw rows older than the cut-off, in batches, and keeps the totals', async () => {
    const totals = await dailyTotals(executor);
    const oldDay = ago(400 * DAY_MS)
      .toISOString()
      .slice(0, 10);
    const summaryBefore = await storage.usage.summarize({
      organizationId: 'org_usagetest_a',
      startDate: oldDay,
      endDate: oldDay,
      limit: 10,
    });

    await expect(storage.usage.pruneUsage({ olderThanDays: 30, batchSize: 2 })).resolves.toEqual({
      deleted: 4,
    });

    expect(await requestIds(executor)).toEqual(['req_1h', 'req_29d_23h']);
    expect(await dailyTotals(executor)).toEqual(totals);
    const summaryAfter = await storage.usage.summarize({
      organizationId: 'org_usagetest_a',
      startDate: oldDay,
      endDate: oldDay,
      limit: 10,
    });
    expect(summaryAfter).toEqual(summaryBefore);
    expect(summaryAfter.items[0]?.requests).toBe(1);
    await expect(storage.usage.pruneUsage({ olderThanDays: 30, batchSize: 2 })).resolves.toEqual({
      deleted: 0,
    });
  });

  it('stops between batches when aborted, and refuses a nonsensical setting', async () => {
    const aborted = AbortSignal.abort();
    await expect(
      storage.usage.pruneUsage({ olderThanDays: 1, batchSize: 1, signal: aborted }),
    ).resolves.toEqual({ deleted: 0 });
    await expect(storage.usage.pruneUsage({ olderThanDays: 0, batchSize: 1 })).rejects.toThrow(
      RangeError,
    );
    await expect(storage.usage.pruneUsage({ olderThanDays: 1, batchSize: 0 })).rejects.toThrow(
      RangeError,
    );
  });

  it('runs on a schedule once started, logs what it deleted, and stops', async () => {
    const logger = recordingLogger();
    const retention = new UsageRetention(storage.usage, logger, {
      olderThanDays: 35,
      batchSize: 1,
      initialDelayMs: 10,
      intervalMs: 20,
    });
    retention.start();
    await waitFor(
      async () => (await requestIds(executor)).length === 4,
      'the scheduled prune of rows older than 35 days',
    );
    await waitFor(
      async () => logger.entries.some((entry) => entry.msg === 'pruned raw usage records'),
      'the log line',
    );
    await retention.stop();
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: 'info', obj: expect.objectContaining({ deleted: 2 }) }),
    );

    await storage.usage.recordMany([timedUsage(ago(100 * DAY_MS), { requestId: 'req_late' })]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await requestIds(executor)).toContain('req_late');
  });
}

describe.each(engines)('usage retention on $name', (engine) => {
  retentionSuite(engine);
});
