import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the integration and e2e tests use; TEST_POSTGRES_URL points them elsewhere. */
export const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection string for the new, empty database. */
  url: string;
  name: string;
  /** Drops the database even while connections to it are still open. Safe to call twice. */
  drop(): Promise<void>;
}

/** Runs `fn` with a short-lived connection to the server's maintenance database. */
export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabaseOptions {
  /** An existing role to own the database and to connect as (default: the admin URL's user). */
  owner?: string;
}

/** A fresh database per test file (or test), so tests never see each other's rows or schema. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `inference_test_${randomBytes(6).toString('hex')}`;
  const owner = options.owner === undefined ? '' : ` owner ${options.owner}`;
  await withAdminClient((client) => client.query(`create database ${name}${owner}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  if (options.owner !== undefined) {
    url.username = options.owner;
    url.password = '';
  }
  let dropped = false;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await withAdminClient((client) =>
        client.query(`drop database if exists ${name} with (force)`),
      );
    },
  };
}
