import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { Storage } from '../../../src/domain/ports.js';
import { openPgliteStorage } from '../../../src/storage/index.js';
import { PgliteExecutor } from '../../../src/storage/pglite/pglite-executor.js';

const HOLDER = fileURLToPath(new URL('./fixtures/pglite-holder.ts', import.meta.url));
const LOCK_FILE = 'inference-api.lock';

/** Starts the holder child and resolves with the record it wrote once it holds the directory. */
async function startHolder(
  dataDir: string,
  requestId: string,
): Promise<{ child: ChildProcess; record: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dataDir, requestId], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`holder exited early with ${String(code)}`);
    }),
  ])) as [string];
  return { child, record: JSON.parse(line) as Record<string, unknown> };
}

describe('PGlite storage', () => {
  let root: string;
  let dataDir: string;
  let opened: { close(): Promise<void> }[];
  let children: ChildProcess[];

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'inference-pglite-'));
    dataDir = path.join(root, 'data');
    opened = [];
    children = [];
  });

  afterEach(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.allSettled(opened.map((storage) => storage.close()));
    await rm(root, { recursive: true, force: true });
  });

  async function open(): Promise<Storage> {
    const storage = await openPgliteStorage({ dataDir, logger: silentLogger });
    opened.push(storage);
    return storage;
  }

  it('refuses a second open of the same data directory in one process until the first closes', async () => {
    const first = await open();
    await expect(open()).rejects.toThrow(/already open in this process/);
    await first.ping();

    await first.close();
    const second = await open();
    await expect(second.ping()).resolves.toBeUndefined();
  });

  it('refuses a directory held by another live process and survives that process being killed', async () => {
    const { child, record } = await startHolder(dataDir, 'req_from_child');
    children.push(child);

    await expect(open()).rejects.toThrow(/in use by process \d+/);

    // SIGKILL: no close(), no shutdown checkpoint; only what PGlite wrote at commit remains.
    child.kill('SIGKILL');
    await once(child, 'exit');

    const storage = await open();
    const found = await storage.usage.findByRequestId('req_from_child');
    expect(found).toEqual({ ...record, createdAt: new Date(String(record.createdAt)) });
  });

  it('runs concurrent transactions one after the other on its single connection', async () => {
    const executor = await PgliteExecutor.open({ dataDir, logger: silentLogger });
    opened.push(executor);
    await executor.query('create table seen (tx text not null)');
    const visibleTo = (tx: string): Promise<number> =>
      executor.transaction(async (session) => {
        await session.query('insert into seen values ($1)', [tx]);
        await sleep(50);
        const { rows } = await session.query<{ n: number }>('select count(*)::int as n from seen');
        return rows[0]?.n ?? -1;
      });
    const failing = executor.transaction(async (session) => {
      await session.query('insert into seen values ($1)', ['doomed']);
      await sleep(20);
      throw new Error('abandon');
    });

    const results = await Promise.allSettled([visibleTo('a'), failing, visibleTo('b')]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(
      results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    ).toEqual([1, 2]);
    const { rows } = await executor.query<{ tx: string }>('select tx from seen order by tx');
    expect(rows).toEqual([{ tx: 'a' }, { tx: 'b' }]);
  });

  it('takes over a lock file left by a process that no longer exists', async () => {
    const storage = await open();
    await storage.close();
    // No real process has a pid this large on Linux (pid_max is at most 2^22).
    await writeFile(path.join(dataDir, LOCK_FILE), '2147483646\n');

    await expect(open()).resolves.toBeDefined();
  });
});
