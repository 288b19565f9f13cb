import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines, type StorageHarness } from './engines.js';
import { openWithExecutor, unique } from './identity-fixtures.js';

const inMinutes = (minutes: number) =>
  new Date(Math.floor(Date.now() / 1000) * 1000 + minutes * 60_000);

describe.each(engines)('revocation backlog on $name', (engine) => {
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

  it('keeps entries until they are published, oldest first, and never lapsed ones', async () => {
    const backlog = storage.revocationBacklog;
    const [first, second, lapsed] = [unique('sess'), unique('sess'), unique('sess')];
    await backlog.add([first], inMinutes(16));
    await backlog.add([second], inMinutes(16));
    await backlog.add([lapsed], inMinutes(-1));
    await backlog.add([], inMinutes(16));

    const pending = await backlog.pending(10);
    expect(pending).toEqual([
      { sessionId: first, until: inMinutes(16) },
      { sessionId: second, until: inMinutes(16) },
    ]);
    expect(await backlog.pending(1)).toEqual([{ sessionId: first, until: inMinutes(16) }]);

    await backlog.remove([{ sessionId: first, until: inMinutes(16) }]);
    expect(await backlog.pending(10)).toEqual([{ sessionId: second, until: inMinutes(16) }]);
    // Removing also cleared the lapsed row, which nothing would ever publish.
    const { rows } = await executor.query<{ count: number }>(
      'select count(*)::int as count from revocation_backlog where session_id = $1',
      [lapsed],
    );
    expect(rows[0]?.count).toBe(0);
    await backlog.remove([{ sessionId: second, until: inMinutes(16) }]);
  });

  it('keeps the later until of a session revoked twice, even while the first is published', async () => {
    const backlog = storage.revocationBacklog;
    const id = unique('sess');
    await backlog.add([id], inMinutes(16));
    const published = await backlog.pending(10);
    await backlog.add([id], inMinutes(20));
    await backlog.add([id], inMinutes(10));
    await backlog.remove(published);
    expect(await backlog.pending(10)).toEqual([{ sessionId: id, until: inMinutes(20) }]);
    await backlog.remove(await backlog.pending(10));
    expect(await backlog.pending(10)).toEqual([]);
  });
});
