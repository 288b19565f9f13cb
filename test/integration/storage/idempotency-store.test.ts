import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredResponse } from '../../../src/domain/identity/ports.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines } from './engines.js';
import type { Engine, StorageHarness } from './engines.js';
import { openWithExecutor, unique } from './identity-fixtures.js';

const RESPONSE: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/json; charset=utf-8', location: '/v1/users/user_1' },
  body: '{"id":"user_1","object":"user","note":"ünïcödé \\u0000"}',
};

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

    await expect(store.begin(scope, key, 'hash-a')).resolves.toEqual({ state: 'started' });
    await expect(store.begin(scope, key, 'hash-a')).resolves.toEqual({ state: 'in_progress' });
    await expect(store.begin(scope, key, 'hash-b')).resolves.toEqual({ state: 'mismatch' });

    await store.complete(scope, key, RESPONSE);
    await expect(store.begin(scope, key, 'hash-a')).resolves.toEqual({
      state: 'replay',
      response: RESPONSE,
    });
    await expect(store.begin(scope, key, 'hash-b')).resolves.toEqual({ state: 'mismatch' });

    // Released claims only: a completed record keeps replaying.
    await store.release(scope, key);
    await expect(store.begin(scope, key, 'hash-a')).resolves.toMatchObject({ state: 'replay' });
  });

  it('keeps keys of different scopes apart', async () => {
    const key = unique('idem');
    const [mine, theirs] = [unique('scope'), unique('scope')];
    await expect(storage.idempotency.begin(mine, key, 'h')).resolves.toEqual({ state: 'started' });
    await expect(storage.idempotency.begin(theirs, key, 'other')).resolves.toEqual({
      state: 'started',
    });
  });

  it('forgets a released claim, so the retry acts again', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    await storage.idempotency.begin(scope, key, 'h');
    await storage.idempotency.release(scope, key);
    await storage.idempotency.release(scope, key);
    await expect(storage.idempotency.begin(scope, key, 'different')).resolves.toEqual({
      state: 'started',
    });
  });

  it('replaces a record older than 24 hours as if it were new', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    await storage.idempotency.begin(scope, key, 'old');
    await storage.idempotency.complete(scope, key, RESPONSE);
    await executor.query(
      `update idempotency_keys
       set created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour'
       where scope = $1 and key = $2`,
      [scope, key],
    );

    await expect(storage.idempotency.begin(scope, key, 'new')).resolves.toEqual({
      state: 'started',
    });
    await expect(storage.idempotency.begin(scope, key, 'new')).resolves.toEqual({
      state: 'in_progress',
    });
    const { rows } = await executor.query<{ state: string; live: boolean }>(
      `select state, expires_at > now() + interval '23 hours' as live
       from idempotency_keys where scope = $1 and key = $2`,
      [scope, key],
    );
    expect(rows).toEqual([{ state: 'in_progress', live: true }]);
  });

  it('lets exactly one of ten concurrent first requests start', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => storage.idempotency.begin(scope, key, 'same')),
    );
    expect(outcomes.filter((outcome) => outcome.state === 'started')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.state === 'in_progress')).toHaveLength(9);
  });

  it('lets exactly one of ten concurrent requests start on an expired record', async () => {
    const scope = unique('scope');
    const key = unique('idem');
    await storage.idempotency.begin(scope, key, 'old');
    await executor.query(
      `update idempotency_keys set expires_at = now() - interval '1 second'
       where scope = $1 and key = $2`,
      [scope, key],
    );
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => storage.idempotency.begin(scope, key, 'new')),
    );
    expect(outcomes.filter((outcome) => outcome.state === 'started')).toHaveLength(1);
  });
}

describe.each(engines)('idempotency store on $name', (engine) => {
  idempotencyStoreSuite(engine);
});
