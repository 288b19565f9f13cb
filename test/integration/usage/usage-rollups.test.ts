import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage, UsageBucket, UsageSummaryQuery } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { inScope, NO_TENANT, tenant } from '../../../src/storage/sql/row-scope.js';
import { engines } from '../storage/engines.js';
import type { Engine, StorageHarness } from '../storage/engines.js';
import { openWithExecutor } from '../storage/identity-fixtures.js';
import { DAY_MS, dailyTotals, rawCount, timedUsage, totalsFromRaw } from './fixtures.js';
import type { TimedUsage } from './fixtures.js';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const pick = <T>(next: () => number, items: readonly T[]): T =>
  items[Math.floor(next() * items.length)] as T;

async function allPages(
  storage: Storage,
  query: Omit<UsageSummaryQuery, 'after'>,
): Promise<UsageBucket[]> {
  const all: UsageBucket[] = [];
  let after: UsageSummaryQuery['after'];
  for (;;) {
    const page = await storage.usage.summarize(after ? { ...query, after } : query);
    expect(page.items.length).toBeLessThanOrEqual(query.limit);
    all.push(...page.items);
    const last = page.items.at(-1);
    if (!page.hasMore || !last) return all;
    after = { date: last.date, model: last.model };
  }
}

function rollupSuite(engine: Engine): void {
  let harness: StorageHarness;
  let storage: Storage;
  let executor: SqlExecutor;

  beforeAll(async () => {
    harness = await engine.create();
    ({ storage, executor } = await openWithExecutor(harness));
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('keeps the daily totals equal to a GROUP BY over the raw rows across random batches', async () => {
    const next = random(20_240_301);
    const organizations = ['org_rollup_a', 'org_rollup_b', 'org_rollup_c', null];
    const models = ['tiny-wordnet', 'gpt-4o', 'claude-3'];
    // Around UTC midnights, so a day boundary cuts through batches.
    const base = Date.parse('2024-02-27T00:00:00Z');
    const seen: TimedUsage[] = [];
    const batches: TimedUsage[][] = [];
    for (let b = 0; b < 40; b += 1) {
      const size = 1 + Math.floor(next() * 120);
      const batch: TimedUsage[] = [];
      for (let i = 0; i < size; i += 1) {
        const earlier = seen.length > 0 && next() < 0.1 ? pick(next, seen) : undefined;
        const at = base + Math.floor(next() * 6) * DAY_MS + Math.floor((next() - 0.5) * 120_000);
        const record = timedUsage(new Date(at), {
          organizationId: pick(next, organizations),
          model: pick(next, models),
          promptTokens: Math.floor(next() * 1000),
          completionTokens: Math.floor(next() * 1000),
          // A duplicate of an earlier completion, with other numbers: it must count once.
          ...(earlier ? { completionId: earlier.completionId } : {}),
        });
        batch.push(record);
        seen.push(record);
      }
      batches.push(batch);
    }
    // Four batches at a time: on PostgreSQL they upsert the same totals rows concurrently.
    for (let b = 0; b < batches.length; b += 4) {
      await Promise.all(batches.slice(b, b + 4).map((batch) => storage.usage.recordMany(batch)));
    }
    // And one at a time through the single-record path, which the same trigger covers.
    await storage.usage.record(timedUsage(new Date(base), { organizationId: null }));

    const unique = new Set(seen.map((record) => record.completionId)).size;
    expect(await rawCount(executor)).toBe(unique + 1);
    const totals = await dailyTotals(executor);
    expect(totals.length).toBeGreaterThan(30);
    expect(totals).toEqual(await totalsFromRaw(executor));
  });

  describe('summarize', () => {
    const A = 'org_summary_a';
    const B = 'org_summary_b';

    beforeAll(async () => {
      await storage.usage.recordMany([
        // Just outside the range on either side.
        timedUsage('2023-12-31T23:59:59.999Z', { organizationId: A }),
        timedUsage('2024-01-04T00:00:00.000Z', { organizationId: A }),
        timedUsage('2024-01-01T00:00:00.000Z', { organizationId: A, promptTokens: 1 }),
        timedUsage('2024-01-01T12:00:00.000Z', { organizationId: A, promptTokens: 2 }),
        timedUsage('2024-01-01T13:00:00.000Z', { organizationId: A, model: 'gpt-4o' }),
        timedUsage('2024-01-03T23:59:59.999Z', { organizationId: A, completionTokens: 7 }),
        timedUsage('2024-01-01T08:00:00.000Z', { organizationId: B, promptTokens: 100 }),
        timedUsage('2024-01-02T08:00:00.000Z', { organizationId: B, model: 'claude-3' }),
        timedUsage('2024-01-01T09:00:00.000Z', { organizationId: null, promptTokens: 1000 }),
      ]);
    });

    const range = { startDate: '2024-01-01', endDate: '2024-01-03', limit: 100 };

    it("sums one organization's days and models, inclusive of both end days", async () => {
      const page = await storage.usage.summarize({ ...range, organizationId: A });
      expect(page).toEqual({
        hasMore: false,
        items: [
          {
            date: '2024-01-01',
            model: 'gpt-4o',
            requests: 1,
            promptTokens: 10,
            completionTokens: 20,
          },
          {
            date: '2024-01-01',
            model: 'tiny-wordnet',
            requests: 2,
            promptTokens: 3,
            completionTokens: 40,
          },
          {
            date: '2024-01-03',
            model: 'tiny-wordnet',
            requests: 1,
            promptTokens: 10,
            completionTokens: 7,
          },
        ],
      });
    });

    it('never shows one organization what another used', async () => {
      const b = await storage.usage.summarize({ ...range, organizationId: B });
      expect(b.items.map((item) => [item.date, item.model, item.promptTokens])).toEqual([
        ['2024-01-01', 'tiny-wordnet', 100],
        ['2024-01-02', 'claude-3', 10],
      ]);
      const unknown = await storage.usage.summarize({ ...range, organizationId: 'org_nobody' });
      expect(unknown.items).toEqual([]);

      // The policy itself, without the query's own filter: a tenant sees its rows only, a
      // transaction without a tenant none, and a tenant cannot write another's totals.
      const seen = await inScope(executor, tenant(A), async (session) => {
        const { rows } = await session.query<{ organization_id: string | null }>(
          'select distinct organization_id from usage_daily',
        );
        return rows.map((row) => row.organization_id);
      });
      expect(seen).toEqual([A]);
      const none = await inScope(executor, NO_TENANT, (session) =>
        session.query('select * from usage_daily'),
      );
      expect(none.rows).toEqual([]);
      await expect(
        inScope(executor, tenant(A), (session) =>
          session.query(
            `insert into usage_daily (organization_id, day, model, requests, prompt_tokens,
               completion_tokens) values ($1, '2024-01-01', 'x', 1, 1, 1)`,
            [B],
          ),
        ),
      ).rejects.toMatchObject({ code: '42501' });
    });

    it('gives the platform every organization and the platform admin, summed', async () => {
      const page = await storage.usage.summarize({
        ...range,
        organizationId: null,
        model: 'tiny-wordnet',
      });
      expect(page.items).toEqual([
        {
          date: '2024-01-01',
          model: 'tiny-wordnet',
          requests: 4,
          promptTokens: 1103,
          completionTokens: 80,
        },
        {
          date: '2024-01-03',
          model: 'tiny-wordnet',
          requests: 1,
          promptTokens: 10,
          completionTokens: 7,
        },
      ]);
    });

    it('pages by (date, model) without skipping or repeating a bucket', async () => {
      for (const organizationId of [A, null]) {
        const whole = await storage.usage.summarize({ ...range, organizationId });
        for (const limit of [1, 2]) {
          expect(await allPages(storage, { ...range, organizationId, limit })).toEqual(whole.items);
        }
      }
      const first = await storage.usage.summarize({ ...range, organizationId: A, limit: 2 });
      expect(first.hasMore).toBe(true);
      const rest = await storage.usage.summarize({
        ...range,
        organizationId: A,
        after: { date: '2024-01-01', model: 'tiny-wordnet' },
      });
      expect(rest.items.map((item) => item.date)).toEqual(['2024-01-03']);
    });
  });
}

describe.each(engines)('usage roll-ups on $name', (engine) => {
  rollupSuite(engine);
});
