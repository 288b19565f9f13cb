import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { Storage } from '../../../src/domain/ports.js';
import { FailoverRevocationList } from '../../../src/security/failover-revocation-list.js';
import {
  closeRedis,
  createRedisClient,
  waitForRedis,
} from '../../../src/storage/redis/redis-client.js';
import { RedisRevocationList } from '../../../src/storage/redis/redis-revocation-list.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { openPostgresStorage } from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { pglite, POSTGRES_TEST_OPTIONS, type StorageHarness } from '../storage/engines.js';
import { newUser, seedOrganization } from '../storage/identity-fixtures.js';

const prefix = uniqueRedisPrefix();
const proxy = new TcpProxy('127.0.0.1', 6379);
const clients: Redis[] = [];
let harness: StorageHarness;
let storage: Storage;
let organizationId: string;
let userId: string;

async function connect(url: string): Promise<Redis> {
  const client = createRedisClient({ url, logger: silentLogger });
  clients.push(client);
  await waitForRedis(client, 5000);
  return client;
}

/** One instance's revocation list, as app.ts builds it; `publishEveryMs: 0` publishes on every check. */
function instance(client: Redis, publishEveryMs = 5000): FailoverRevocationList {
  return new FailoverRevocationList(
    new RedisRevocationList(client, { keyPrefix: prefix }),
    storage.revocations,
    storage.revocationBacklog,
    silentLogger,
    { publishEveryMs },
  );
}

/** A live session, revoked in the database as the tenant store does before the list is told. */
async function revokedSession(): Promise<string> {
  return storage.identity.inTenant(organizationId, async (tx) => {
    const session = await tx.createSession({ userId, expiresAt: new Date(Date.now() + 3_600_000) });
    await tx.revokeSession(session.id);
    return session.id;
  });
}

const horizon = () => new Date(Date.now() + 960_000);

beforeAll(async () => {
  await proxy.start();
  harness = await pglite.create();
  storage = await harness.open();
  const { organization } = await seedOrganization(storage);
  organizationId = organization.id;
  userId = (await storage.identity.inTenant(organizationId, (tx) => tx.createUser(newUser()))).id;
});

afterAll(async () => {
  await Promise.all(clients.map(closeRedis));
  await proxy.cut();
  await harness?.cleanup();
  await cleanupRedisPrefix(prefix);
});

describe('FailoverRevocationList', () => {
  it('records a revocation Redis cannot take, and another instance writes it to Redis', async () => {
    const cutOff = instance(await connect(`redis://127.0.0.1:${proxy.port}`));
    const direct = await connect(REDIS_URL);
    const other = instance(direct, 0);
    const shared = new RedisRevocationList(direct, { keyPrefix: prefix });
    const sessionId = await revokedSession();

    await proxy.cut();
    await cutOff.revokeSessions([sessionId], horizon());
    expect(await shared.isSessionRevoked(sessionId)).toBe(false);
    expect(await storage.revocationBacklog.pending(100)).toContainEqual(
      expect.objectContaining({ sessionId }),
    );

    // The other instance reaches Redis and publishes the backlog before it trusts Redis.
    expect(await other.isSessionRevoked(sessionId)).toBe(true);
    expect(await shared.isSessionRevoked(sessionId)).toBe(true);
    expect(await storage.revocationBacklog.pending(100)).not.toContainEqual(
      expect.objectContaining({ sessionId }),
    );
    await proxy.start();
  });

  it('answers from the database, not Redis, until the backlog is published', async () => {
    const direct = await connect(REDIS_URL);
    const list = instance(direct);
    const shared = new RedisRevocationList(direct, { keyPrefix: prefix });
    const sessionId = await revokedSession();
    // Made while this instance could not reach Redis, so only the backlog has it.
    await storage.revocationBacklog.add([sessionId], horizon());
    expect(await shared.isSessionRevoked(sessionId)).toBe(false);

    expect(await list.isSessionRevoked(sessionId)).toBe(true);
    expect(await shared.isSessionRevoked(sessionId)).toBe(true);
  });

  it('keeps sessions that were never revoked valid throughout', async () => {
    const list = instance(await connect(REDIS_URL));
    const live = await storage.identity.inTenant(organizationId, (tx) =>
      tx.createSession({ userId, expiresAt: new Date(Date.now() + 3_600_000) }),
    );
    expect(await list.isSessionRevoked(live.id)).toBe(false);
    expect(await list.isSessionRevoked(live.id)).toBe(false);
  });
});

describe('FailoverRevocationList while the database is down', () => {
  const databaseProxy = new TcpProxy('127.0.0.1', 5432);
  let database: TestDatabase;
  let postgresStorage: Storage;

  beforeAll(async () => {
    database = await createTestDatabase();
    await databaseProxy.start();
    const url = new URL(database.url);
    url.port = String(databaseProxy.port);
    postgresStorage = await openPostgresStorage({
      ...POSTGRES_TEST_OPTIONS,
      url: url.toString(),
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await databaseProxy.cut();
    await postgresStorage?.close();
    await database?.drop();
  });

  it('keeps answering from Redis, which holds every revocation, when publishing fails', async () => {
    const direct = await connect(REDIS_URL);
    const shared = new RedisRevocationList(direct, { keyPrefix: prefix });
    const list = new FailoverRevocationList(
      shared,
      postgresStorage.revocations,
      postgresStorage.revocationBacklog,
      silentLogger,
      { publishEveryMs: 0 },
    );
    const revoked = `sess_${uniqueRedisPrefix()}`;
    const neverRevoked = `sess_${uniqueRedisPrefix()}`;
    await list.revokeSessions([revoked], horizon());
    // Redis holds the revocation and the backlog is empty: Redis is complete.
    expect(await list.isSessionRevoked(revoked)).toBe(true);

    await databaseProxy.cut();
    expect(await list.isSessionRevoked(revoked)).toBe(true);
    expect(await list.isSessionRevoked(neverRevoked)).toBe(false);
    await databaseProxy.start();
  });
});
