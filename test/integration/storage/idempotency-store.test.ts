import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyPurge } from '../../../src/domain/identity/idempotency-purge.js';
import type {
  IdempotencyBegin,
  IdempotencyTimes,
  StoredResponse,
} from '../../../src/domain/identity/ports.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines } from './engines.js';
import type { Engine, StorageHarness } from './engines.js';
import { openWithExecutor, unique } from './identity-fixtures.js';
import { recordingLogger } from './recording-logger.js';

const RESPONSE: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/json; charset=utf-8', location: '/v1/users/user_1' },
  body: '{"id":"user_1","object":"user","note":"ünïcödé \\u0000"}',
};

const TIMES: IdempotencyTimes = { leaseSeconds: 600, retentionSeconds: 86_400 };

function claimOf(outcome: IdempotencyBegin): string {
  if (outcome.state !== 'started') throw new Error(`expected a claim, got ${outcome.state}`);
  return outcome.claim;
}

function idempotencyStoreSuite(engine: Engine): void {
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

  it('claims a key, answers in_progress and mismatch, then replays once completed', async () => {
    const scope = unique('key_principal');
    const key = unique('idem');
    const store = storage.idempotency;

    const claim = claimOf(await store.begin(scope, key, 'hash-a', TIMES));
    await expect(store.begin(scope, key, 'hash-a', TIMES)).resolves.toEqual({
      state: 'in_progress',
    });
    await expect(store.begin(scope, key, 'hash-b', TIMES)).resolves.toEqual({ state: 'mismatch' });

    await store.complete(scope, key, claim, RESPONSE, TIMES);
    await expect(store.begin(scope, key, 'hash-a', TIMES)).resolves.toEqual({
      state: 'replay',
      response: RESPONSE,
    });
    await expect(store.begin(scope, key, 'hash-b', TIMES)).resolves.toEqual({ state: 'mismatch' });

    // Released claims only: a completed record keeps replaying.
    await store.release(scope, key, claim);
    await expect(store.begin(scope, key, 'hash-a', TIMES)).resolves.toMatchObject({
      state: 'replay',
    });
  });

  it('keeps keys of different scopes apart', async () => {
    const key = unique('idem');
    const [mine, theirs] = [unique('scope'), unique('scope')];
    await expect(storage.idempotency.begin(mine, key, 'h', TIMES)).resolves.toMatchObject({
      state: 'started',
    });
    await expect(storage.idempotency.begin(theirs, key, 'other', TIMES)).resolves.toMatchObject({
      state: 'started',
    });
  });

  it('forgets a released claim, so the retry acts again', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    const claim = claimOf(await storage.idempotency.begin(scope, key, 'h', TIMES));
    await storage.idempotency.release(scope, key, claim);
    await storage.idempotency.release(scope, key, claim);
    await expect(storage.idempotency.begin(scope, key, 'different', TIMES)).resolves.toMatchObject({
      state: 'started',
    });
  });

  it('replaces a record older than 24 hours as if it were new', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    const claim = claimOf(await storage.idempotency.begin(scope, key, 'old', TIMES));
    await storage.idempotency.complete(scope, key, claim, RESPONSE, TIMES);
    await executor.query(
      `update idempotency_keys
       set created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour'
       where scope = $1 and key = $2`,
      [scope, key],
    );

    await expect(storage.idempotency.begin(scope, key, 'new', TIMES)).resolves.toMatchObject({
      state: 'started',
    });
    await expect(storage.idempotency.begin(scope, key, 'new', TIMES)).resolves.toEqual({
      state: 'in_progress',
    });
    const { rows } = await executor.query<{ state: string; live: boolean }>(
      `select state, expires_at > now() + interval '9 minutes' as live
       from idempotency_keys where scope = $1 and key = $2`,
      [scope, key],
    );
    expect(rows).toEqual([{ state: 'in_progress', live: true }]);
  });

  it('lets exactly one of ten concurrent first requests start', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => storage.idempotency.begin(scope, key, 'same', TIMES)),
    );
    expect(outcomes.filter((outcome) => outcome.state === 'started')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.state === 'in_progress')).toHaveLength(9);
  });

  it('lets exactly one of ten concurrent requests start on an expired record', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    await storage.idempotency.begin(scope, key, 'old', TIMES);
    await executor.query(
      `update idempotency_keys set expires_at = now() - interval '1 second'
       where scope = $1 and key = $2`,
      [scope, key],
    );
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => storage.idempotency.begin(scope, key, 'new', TIMES)),
    );
    expect(outcomes.filter((outcome) => outcome.state === 'started')).toHaveLength(1);
  });

  it('holds an unfinished claim for its lease only, then lets a retry claim the key', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    await storage.idempotency.begin(scope, key, 'h', TIMES);
    const { rows } = await executor.query<{ lease: boolean }>(
      `select expires_at between now() + interval '599 seconds' and now() + interval '601 seconds'
         as lease
       from idempotency_keys where scope = $1 and key = $2`,
      [scope, key],
    );
    expect(rows).toEqual([{ lease: true }]);

    // The holder crashed: nothing completes or releases the claim, and its lease runs out.
    await executor.query(
      `update idempotency_keys set expires_at = now() - interval '1 second'
       where scope = $1 and key = $2`,
      [scope, key],
    );
    await expect(storage.idempotency.begin(scope, key, 'h', TIMES)).resolves.toMatchObject({
      state: 'started',
    });
  });

  it('keeps a completed response for the retention from the first request', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    const claim = claimOf(await storage.idempotency.begin(scope, key, 'h', TIMES));
    await storage.idempotency.complete(scope, key, claim, RESPONSE, TIMES);
    const { rows } = await executor.query<{ kept: boolean }>(
      `select expires_at = created_at + interval '24 hours' as kept
       from idempotency_keys where scope = $1 and key = $2`,
      [scope, key],
    );
    expect(rows).toEqual([{ kept: true }]);
  });

  it('ignores the late answer of a claim whose lease lapsed and was taken over', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    const stale = claimOf(await storage.idempotency.begin(scope, key, 'first body', TIMES));
    await executor.query(
      `update idempotency_keys set expires_at = now() - interval '1 second'
       where scope = $1 and key = $2`,
      [scope, key],
    );
    const current = claimOf(await storage.idempotency.begin(scope, key, 'second body', TIMES));

    await storage.idempotency.release(scope, key, stale);
    await expect(storage.idempotency.begin(scope, key, 'second body', TIMES)).resolves.toEqual({
      state: 'in_progress',
    });
    await storage.idempotency.complete(scope, key, stale, { ...RESPONSE, status: 418 }, TIMES);
    await expect(storage.idempotency.begin(scope, key, 'second body', TIMES)).resolves.toEqual({
      state: 'in_progress',
    });

    await storage.idempotency.complete(scope, key, current, RESPONSE, TIMES);
    await expect(storage.idempotency.begin(scope, key, 'second body', TIMES)).resolves.toEqual({
      state: 'replay',
      response: RESPONSE,
    });
  });

  it('purges expired responses and lapsed claims in batches, keeping live records', async () => {
    const scope = unique('purge');
    const [oldAnswer, olderAnswer, liveAnswer] = [unique('idem'), unique('idem'), unique('idem')];
    const [liveClaim, lapsedClaim] = [unique('idem'), unique('idem')];
    for (const key of [oldAnswer, olderAnswer, liveAnswer]) {
      const claim = claimOf(await storage.idempotency.begin(scope, key, 'h', TIMES));
      await storage.idempotency.complete(scope, key, claim, RESPONSE, TIMES);
    }
    for (const key of [liveClaim, lapsedClaim]) {
      await storage.idempotency.begin(scope, key, 'h', TIMES);
    }
    await executor.query(
      `update idempotency_keys set expires_at = now() - interval '1 second'
       where scope = $1 and key = any($2::text[])`,
      [scope, [oldAnswer, olderAnswer, lapsedClaim]],
    );
    const remaining = async () =>
      (
        await executor.query<{ key: string }>(
          'select key from idempotency_keys where scope = $1 order by key',
          [scope],
        )
      ).rows.map((row) => row.key);

    await expect(
      storage.idempotency.purgeExpired({ batchSize: 1, signal: AbortSignal.abort() }),
    ).resolves.toEqual({ deleted: 0 });
    await expect(storage.idempotency.purgeExpired({ batchSize: 0 })).rejects.toThrow(RangeError);

    const logger = recordingLogger();
    const purge = new IdempotencyPurge(storage.idempotency, logger, { batchSize: 2 });
    // Other tests' expired rows in this database may go too; the batches of 2 must cover all 3.
    expect((await purge.runOnce()).deleted).toBeGreaterThanOrEqual(3);
    expect(await remaining()).toEqual([liveAnswer, liveClaim].sort());
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'purged expired idempotency records' }),
    );
    await expect(purge.runOnce()).resolves.toEqual({ deleted: 0 });
    await purge.stop();
  });
}

describe.each(engines)('idempotency store on $name', (engine) => {
  idempotencyStoreSuite(engine);
});
