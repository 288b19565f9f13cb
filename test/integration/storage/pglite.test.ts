import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { Storage } from '../../../src/domain/ports.js';
import { openPgliteStorage } from '../../../src/storage/index.js';
import { STALE_MS } from '../../../src/storage/pglite/data-dir-lock.js';
import { PgliteExecutor } from '../../../src/storage/pglite/pglite-executor.js';

const HOLDER = fileURLToPath(new URL('./fixtures/pglite-holder.ts', import.meta.url));
const LOCK_FILE = 'inference-api.lock';

interface Holding {
  pid: number;
  record: Record<string, unknown>;
}

/**
 * Starts the holder child; resolves once it holds the directory, or once it exited without.
 * `ownPidNamespace` runs it as pid 1 of a new PID namespace, as in a container of its own;
 * --kill-child makes killing `unshare` kill the holder too.
 */
function spawnHolder(
  dataDir: string,
  requestId: string,
  ownPidNamespace = false,
): {
  child: ChildProcess;
  outcome: Promise<{ held: Holding } | { exitCode: number | null; stderr: string }>;
} {
  const node = [process.execPath, '--import', 'tsx', HOLDER, dataDir, requestId];
  const [command, ...args] = ownPidNamespace
    ? ['unshare', '--pid', '--fork', '--kill-child', ...node]
    : node;
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const outcome = Promise.race([
    once(lines, 'line').then(([line]) => ({ held: JSON.parse(String(line)) as Holding })),
    once(child, 'exit').then(([exitCode]) => ({ exitCode: exitCode as number | null, stderr })),
  ]);
  return { child, outcome };
}

/** Makes the lock look as it does STALE_MS after its holder stopped refreshing it. */
async function ageLock(dataDir: string): Promise<void> {
  const past = new Date(Date.now() - 2 * STALE_MS);
  await utimes(path.join(dataDir, LOCK_FILE), past, past);
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

  async function startHolder(
    requestId: string,
    ownPidNamespace = false,
  ): Promise<{
    child: ChildProcess;
    held: Holding;
  }> {
    const { child, outcome } = spawnHolder(dataDir, requestId, ownPidNamespace);
    children.push(child);
    const result = await outcome;
    if (!('held' in result)) throw new Error(`holder exited with ${String(result.exitCode)}`);
    return { child, held: result.held };
  }

  it('refuses a directory held by another live process and survives that process being killed', async () => {
    const {
      child,
      held: { record },
    } = await startHolder('req_from_child');

    await expect(open()).rejects.toThrow(/in use by another instance/);

    // SIGKILL: no close(), no shutdown checkpoint; only what PGlite wrote at commit remains.
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The killed holder's lock is still fresh: it is refused until it expires.
    await expect(open()).rejects.toThrow(/in use by another instance/);
    await ageLock(dataDir);

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

  it('refuses a second instance in another PID namespace although both are pid 1', async () => {
    // Two containers on one volume: a pid in the lock cannot tell the holder from oneself.
    const first = await startHolder('req_first_container', true);
    expect(first.held.pid).toBe(1);

    const second = spawnHolder(dataDir, 'req_second_container', true);
    children.push(second.child);
    const outcome = await second.outcome;

    expect(outcome).not.toHaveProperty('held');
    expect(outcome).toMatchObject({
      stderr: expect.stringMatching(/data directory .* is in use by another instance/) as unknown,
    });
  });

  it('takes over a lock its holder stopped refreshing', async () => {
    await mkdir(path.join(dataDir, LOCK_FILE), { recursive: true });
    await expect(open()).rejects.toThrow(/in use by another instance/);

    await ageLock(dataDir);

    await expect(open()).resolves.toBeDefined();
  });
});
