import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { createTestDatabase } from '../../support/postgres.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';

const PASSWORD = 'shared password for both';

/** Two instances behind a load balancer: one database, one signing key, maybe one Redis. */
function twoInstances(name: string, withRedis: boolean) {
  describe(name, () => {
    let one: TestApp;
    let two: TestApp;
    let apiOne: Api;
    let apiTwo: Api;
    const cleanups: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      const db = await createTestDatabase();
      cleanups.push(() => db.drop());
      const keyDir = await mkdtemp(path.join(tmpdir(), 'inference-api-key-'));
      cleanups.push(() => rm(keyDir, { recursive: true, force: true }));
      const keyFile = path.join(keyDir, 'signing-key.pem');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
      });
      const env: Record<string, string> = { DATABASE_URL: db.url, JWT_PRIVATE_KEY_FILE: keyFile };
      if (withRedis) {
        const prefix = uniqueRedisPrefix();
        cleanups.push(() => cleanupRedisPrefix(prefix));
        Object.assign(env, { REDIS_URL, REDIS_KEY_PREFIX: prefix });
      }
      one = await startTestApp(env);
      two = await startTestApp(env);
      apiOne = apiClient(one.app.http);
      apiTwo = apiClient(two.app.http);
      const org = await apiOne('POST', '/v1/organizations', {
        token: ADMIN_KEY,
        body: { name: 'shared' },
      });
      const user = await apiTwo('POST', '/v1/users', {
        token: ADMIN_KEY,
        body: { email: 'pat@shared.test', password: PASSWORD, organization_id: org.json().id },
      });
      expect(user.status).toBe(201);
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('a token from one instance works on the other, and logout there ends it here at once', async () => {
      const pair = (
        await apiOne('POST', '/v1/auth/token', {
          body: { email: 'pat@shared.test', password: PASSWORD },
        })
      ).json<{
        access_token: string;
      }>();
      expect((await apiTwo('GET', '/v1/models', { token: pair.access_token })).status).toBe(200);
      expect((await apiTwo('POST', '/v1/auth/logout', { token: pair.access_token })).status).toBe(
        204,
      );
      expect((await apiOne('GET', '/v1/models', { token: pair.access_token })).status).toBe(401);
    });

    it('a cursor from one instance pages on the other', async () => {
      await apiOne('POST', '/v1/organizations', { token: ADMIN_KEY, body: { name: 'second' } });
      const first = (await apiOne('GET', '/v1/organizations?limit=1', { token: ADMIN_KEY })).json<{
        data: { id: string }[];
        pagination: { cursor: string };
      }>();
      const next = await apiTwo(
        'GET',
        `/v1/organizations?limit=1&cursor=${first.pagination.cursor}`,
        {
          token: ADMIN_KEY,
        },
      );
      expect(next.status).toBe(200);
      expect(next.json<{ data: { id: string }[] }>().data[0]?.id).not.toBe(first.data[0]?.id);
    });
  });
}

twoInstances('sharing PostgreSQL (revocations through the database)', false);
twoInstances('sharing PostgreSQL and Redis (revocations through Redis)', true);
