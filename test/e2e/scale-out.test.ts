import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/postgres.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../support/redis.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const ADMIN_API_KEY = 'sk-scale-out-admin-0123456789abcdefghijklmn';
const PASSWORD = 'scale out password';

describe('three instances behind one PostgreSQL and one Redis', () => {
  const servers: ServerProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const prefix = uniqueRedisPrefix();
    cleanups.push(() => cleanupRedisPrefix(prefix));
    const keyDir = await mkdtemp(path.join(tmpdir(), 'inference-api-scale-'));
    cleanups.push(() => rm(keyDir, { recursive: true, force: true }));
    const keyFile = path.join(keyDir, 'signing-key.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const env = {
      ADMIN_API_KEY,
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '4',
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      JWT_PRIVATE_KEY_FILE: keyFile,
      LOG_LEVEL: 'warn',
    };
    // Started together: migrations must serialize under their advisory lock.
    servers.push(...(await Promise.all([0, 1, 2].map(() => startServerProcess(env)))));
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function call(
    server: ServerProcess,
    method: string,
    url: string,
    token?: string,
    body?: unknown,
  ) {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, string> };
  }

  it('a key with requests_per_minute 30 gets exactly 30 of 60 requests spread across them', async () => {
    const [one, two, three] = servers as [ServerProcess, ServerProcess, ServerProcess];
    const org = await call(one, 'POST', '/v1/organizations', ADMIN_API_KEY, { name: 'scale' });
    await call(two, 'POST', '/v1/users', ADMIN_API_KEY, {
      email: 'dev@scale.test',
      password: PASSWORD,
      organization_id: org.json.id,
    });
    const login = await call(three, 'POST', '/v1/auth/token', undefined, {
      email: 'dev@scale.test',
      password: PASSWORD,
    });
    const key = await call(one, 'POST', '/v1/api-keys', login.json.access_token, {
      name: 'thirty',
      scopes: ['models:read'],
      rate_limit: { requests_per_minute: 30, tokens_per_minute: 1000 },
    });
    expect(key.status).toBe(201);
    const secret = key.json.secret as string;

    // All at once, so the bucket's refill (one request per two seconds) cannot add a 31st.
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(servers[i % 3] as ServerProcess, 'GET', '/v1/models', secret),
      ),
    ).then((results) => results.map((r) => r.status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
  });
});
