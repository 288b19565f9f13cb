import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/domain/ports.js';
import { engines, type StorageHarness } from '../storage/engines.js';
import { newUsage, timedUsage } from './fixtures.js';

describe.each(engines)('usage of POST /v1/embeddings on $name', (engine) => {
  let harness: StorageHarness;
  let storage: Storage;

  beforeEach(async () => {
    harness = await engine.create();
    storage = await harness.open();
  });
  afterEach(async () => {
    await harness?.cleanup();
  });

  it('stores an embeddings record and reads it back as one', async () => {
    const input = newUsage({ endpoint: 'embeddings', completionTokens: 0 });
    await storage.usage.record(input);

    expect(await storage.usage.findByCompletionId(input.completionId)).toMatchObject({
      endpoint: 'embeddings',
      promptTokens: input.promptTokens,
      completionTokens: 0,
    });
  });

  it('writes a batch that mixes embeddings with completions, daily totals included', async () => {
    const at = '2026-03-01T12:00:00Z';
    const batch = [
      timedUsage(at, { endpoint: 'chat.completions', promptTokens: 3, completionTokens: 4 }),
      timedUsage(at, { endpoint: 'embeddings', promptTokens: 7, completionTokens: 0 }),
    ];

    expect(await storage.usage.recordMany(batch)).toEqual({ inserted: 2 });
    const { items } = await storage.usage.summarize({
      organizationId: 'org_usagetest_a',
      startDate: '2026-03-01',
      endDate: '2026-03-01',
      limit: 10,
    });
    expect(items).toEqual([
      expect.objectContaining({ requests: 2, promptTokens: 10, completionTokens: 4 }),
    ]);
  });
});
