import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines, type StorageHarness } from './engines.js';
import { openWithExecutor, unique } from './identity-fixtures.js';

// One whole-second instant for the file: separate Date.now() calls may straddle a second,
// and the table keeps whole seconds.
const start = Math.floor(Date.now() / 1000) * 1000;
const inMinutes = (minutes: number) => new Date(start + minutes * 60_000);

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
    const later = inMinutes(16);
    await backlog.add([first], later);
    await backlog.add([second], later);
    await backlog.add([lapsed], inMinutes(-1));
    await backlog.add([], later);

    const pending = await backlog.pending(10);
    expect(pending).toEqual([
      { sessionId: first, until: later },
      { sessionId: second, until: later },
    ]);
    expect(await backlog.pending(1)).toEqual([{ sessionId: first, until: later }]);

    await backlog.remove([{ sessionId: first, until: later }]);
    expect(await backlog.pending(10)).toEqual([{ sessionId: second, until: later }]);
    // Removing also cleared the lapsed row, which nothing would ever publish.
    const { rows } = await executor.query<{ count: number }>(
      'select count(*)::int as count from revocation_backlog where session_id = $1',
      [lapsed],
    );
    expect(rows[0]?.count).toBe(0);
    await backlog.remove([{ sessionId: second, until: later }]);
  });

  it('keeps the later until of a session revoked twice, even while the first is published', async () => {
    const backlog = storage.revocationBacklog;
    const id = unique('sess');
    const [ten, sixteen, twenty] = [inMinutes(10), inMinutes(16), inMinutes(20)];
    await backlog.add([id], sixteen);
    const published = await backlog.pending(10);
    await backlog.add([id], twenty);
    await backlog.add([id], ten);
    await backlog.remove(published);
    expect(await backlog.pending(10)).toEqual([{ sessionId: id, until: twenty }]);
    await backlog.remove(await backlog.pending(10));
    expect(await backlog.pending(10)).toEqual([]);
  });
});
