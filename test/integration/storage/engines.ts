import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../src/domain/logger.js';
import type { Logger } from '../../../src/domain/logger.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { openPgliteStorage, openPostgresStorage } from '../../../src/storage/index.js';
import { PgliteExecutor } from '../../../src/storage/pglite/pglite-executor.js';
import { PostgresExecutor } from '../../../src/storage/postgres/postgres-executor.js';
import { createTestDatabase } from '../../support/postgres.js';

/** One empty database on one engine, reachable through the public factory or a raw executor. */
export interface StorageHarness {
  /** PGlite allows one open instance per data directory: close the previous one first. */
  open(logger?: Logger): Promise<Storage>;
  /** No migrations run. */
  openExecutor(): Promise<SqlExecutor>;
  /** Closes whatever is still open, then deletes the database. */
  cleanup(): Promise<void>;
}

export interface Engine {
  name: 'pglite' | 'postgres';
  create(): Promise<StorageHarness>;
}

interface Closable {
  close(): Promise<void>;
}

function tracking(): { track<T extends Closable>(value: T): T; closeAll(): Promise<void> } {
  const open: Closable[] = [];
  return {
    track: (value) => {
      open.push(value);
      return value;
    },
    closeAll: async () => {
      await Promise.allSettled(open.map((value) => value.close()));
    },
  };
}

export const POSTGRES_TEST_OPTIONS = {
  poolSize: 4,
  connectionTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
} as const;

export const pglite: Engine = {
  name: 'pglite',
  create: async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'inference-storage-'));
    // A directory that does not exist yet, to show the factory creates it.
    const dataDir = path.join(root, 'nested', 'pgdata');
    const { track, closeAll } = tracking();
    return {
      open: async (logger = silentLogger) => track(await openPgliteStorage({ dataDir, logger })),
      openExecutor: async () => track(await PgliteExecutor.open({ dataDir, logger: silentLogger })),
      cleanup: async () => {
        await closeAll();
        await rm(root, { recursive: true, force: true });
      },
    };
  },
};

export const postgres: Engine = {
  name: 'postgres',
  create: async () => {
    const database = await createTestDatabase();
    const { track, closeAll } = tracking();
    const options = { ...POSTGRES_TEST_OPTIONS, url: database.url };
    return {
      open: async (logger = silentLogger) =>
        track(await openPostgresStorage({ ...options, logger })),
      openExecutor: async () => track(new PostgresExecutor({ ...options, logger: silentLogger })),
      cleanup: async () => {
        await closeAll();
        await database.drop();
      },
    };
  },
};

export const engines: Engine[] = [pglite, postgres];
