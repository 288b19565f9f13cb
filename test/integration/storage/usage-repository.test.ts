import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import { silentLogger } from '../../../src/domain/logger.js';
import type { NewUsageRecord, Storage, UsageRecord } from '../../../src/domain/ports.js';
import { migrate } from '../../../src/storage/migrate.js';
import { SqlUsageRepository } from '../../../src/storage/sql/usage-repository.js';
import { engines } from './engines.js';
import type { Engine, StorageHarness } from './engines.js';

function newUsage(overrides: Partial<NewUsageRecord> = {}): NewUsageRecord {
  return {
    completionId: `chatcmpl-${randomUUID()}`,
    requestId: `req_${randomUUID()}`,
    principalId: 'platform-admin',
    organizationId: null,
    model: 'local-echo',
    endpoint: 'chat.completions',
    promptTokens: 12,
    completionTokens: 34,
    outcome: 'completed',
    durationMs: 567,
    stream: true,
    ...overrides,
  };
}

async function listAll(storage: Storage, limit: number): Promise<UsageRecord[]> {
  const all: UsageRecord[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await storage.usage.list(before === undefined ? { limit } : { limit, before });
    expect(page.length).toBeLessThanOrEqual(limit);
    all.push(...page);
    if (page.length < limit) return all;
    before = page.at(-1)?.id;
  }
}

function usageRepositorySuite(engine: Engine): void {
  let harness: StorageHarness;
  let storage: Storage;

  beforeAll(async () => {
    harness = await engine.create();
    storage = await harness.open();
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('reports its engine and answers ping', async () => {
    expect(storage.kind).toBe(engine.name);
    await expect(storage.ping()).resolves.toBeUndefined();
  });

  it('records a usage row and reads every field back with its type', async () => {
    const input = newUsage({ endpoint: 'completions', outcome: 'cancelled', stream: false });
    const before = Date.now();
    const stored = await storage.usage.record(input);

    expect(stored).toEqual({ ...input, id: expect.any(String), createdAt: expect.any(Date) });
    expect(stored.id).toMatch(/^usage_[A-Za-z0-9_-]{22}$/);
    // Generous bounds: the database clock, not ours, sets created_at.
    expect(Math.abs(stored.createdAt.getTime() - before)).toBeLessThan(60_000);
    expect(typeof stored.promptTokens).toBe('number');
    expect(typeof stored.durationMs).toBe('number');

    const found = await storage.usage.findByRequestId(input.requestId);
    expect(found).toEqual(stored);
  });

  it('returns null for an unknown request id', async () => {
    await expect(storage.usage.findByRequestId('req_missing')).resolves.toBeNull();
  });

  it('rejects a second record for the same completion id and keeps the first intact', async () => {
    const first = await storage.usage.record(newUsage());
    const countBefore = (await listAll(storage, 1000)).length;

    const duplicate = storage.usage.record(
      newUsage({ completionId: first.completionId, model: 'other' }),
    );
    await expect(duplicate).rejects.toBeInstanceOf(AppError);
    await expect(duplicate).rejects.toMatchObject({ code: 'CONFLICT' });

    expect(await storage.usage.findByCompletionId(first.completionId)).toEqual(first);
    expect(await listAll(storage, 1000)).toHaveLength(countBefore);
  });

  it('keeps every completion that shares a request id, whoever sent it', async () => {
    const requestId = `req_${randomUUID()}`;
    const mine = await storage.usage.record(newUsage({ requestId, organizationId: 'org_a' }));
    const again = await storage.usage.record(newUsage({ requestId, organizationId: 'org_a' }));
    const theirs = await storage.usage.record(newUsage({ requestId, organizationId: 'org_b' }));

    for (const record of [mine, again, theirs]) {
      expect(await storage.usage.findByCompletionId(record.completionId)).toEqual(record);
    }
    const listed = await listAll(storage, 1000);
    expect(listed.filter((record) => record.requestId === requestId)).toHaveLength(3);
  });

  it('rejects negative token counts through the CHECK constraint and writes nothing', async () => {
    const countBefore = (await listAll(storage, 1000)).length;
    const bad = newUsage({ promptTokens: -1 });

    await expect(storage.usage.record(bad)).rejects.toMatchObject({ code: '23514' });
    await expect(storage.usage.record(newUsage({ completionTokens: -5 }))).rejects.toMatchObject({
      code: '23514',
    });

    expect(await storage.usage.findByRequestId(bad.requestId)).toBeNull();
    expect(await listAll(storage, 1000)).toHaveLength(countBefore);
  });

  it('lists newest first across pages using the last id as cursor', async () => {
    const inserted: UsageRecord[] = [];
    for (let i = 0; i < 7; i += 1) {
      inserted.push(await storage.usage.record(newUsage({ promptTokens: i })));
      // Distinct milliseconds, so the expected order is knowable from here.
      await sleep(3);
    }
    const newestFirst = [...inserted].reverse();

    const page1 = await storage.usage.list({ limit: 3 });
    const page2 = await storage.usage.list({ limit: 3, before: page1.at(-1)?.id });
    const page3 = await storage.usage.list({ limit: 3, before: page2.at(-1)?.id });
    expect([...page1, ...page2, ...page3.slice(0, 1)]).toEqual(newestFirst);

    const walked = await listAll(storage, 2);
    expect(walked).toEqual(await storage.usage.list({ limit: 1000 }));
    expect(new Set(walked.map((record) => record.id)).size).toBe(walked.length);
    for (let i = 1; i < walked.length; i += 1) {
      const newer = walked[i - 1];
      const older = walked[i];
      expect(older?.createdAt.getTime()).toBeLessThanOrEqual(newer?.createdAt.getTime() ?? 0);
    }
  });

  it('returns an empty page for an unknown cursor and refuses a nonsensical limit', async () => {
    await expect(storage.usage.list({ limit: 5, before: 'usage_unknown' })).resolves.toEqual([]);
    await expect(storage.usage.list({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
  });

  it('keeps data across a close and reopen, and close is idempotent', async () => {
    const kept = await storage.usage.record(newUsage());
    const listed = await storage.usage.list({ limit: 1000 });

    await storage.close();
    await storage.close();
    await expect(storage.ping()).rejects.toThrow();

    storage = await harness.open();
    expect(await storage.usage.findByRequestId(kept.requestId)).toEqual(kept);
    expect(await storage.usage.list({ limit: 1000 })).toEqual(listed);
  });

  it('pages through rows sharing one created_at without skipping or repeating any', async () => {
    // Rows written in one transaction share now(); the id must break the tie. Inserted by hand to
    // pin the timestamp, so the storage is closed to free the engine for a raw executor.
    await storage.close();
    const executor = await harness.openExecutor();
    await migrate(executor, { logger: silentLogger });
    const ids = Array.from({ length: 5 }, (_, i) => `usage_tie${i}aaaaaaaa`);
    await executor.transaction(async (session) => {
      for (const id of ids) {
        await session.query(
          `insert into usage_records (id, completion_id, request_id, principal_id, model,
             endpoint, prompt_tokens, completion_tokens, outcome, duration_ms, stream, created_at)
           values ($1, $1, $1, 'p', 'm', 'completions', 0, 0, 'completed', 0, false,
             '2001-02-03T04:05:06.789123Z')`,
          [id],
        );
      }
    });
    const repository = new SqlUsageRepository(executor);
    const tail: UsageRecord[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await repository.list(
        before === undefined ? { limit: 2 } : { limit: 2, before },
      );
      tail.push(...page);
      if (page.length < 2) break;
      before = page.at(-1)?.id;
    }
    expect(tail.slice(-5).map((record) => record.id)).toEqual([...ids].reverse());
    expect(new Set(tail.map((record) => record.id)).size).toBe(tail.length);
    await executor.close();
  });
}

describe.each(engines)('usage repository on $name', (engine) => {
  usageRepositorySuite(engine);
});
