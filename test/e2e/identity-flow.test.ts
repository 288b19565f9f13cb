import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/postgres.js';
import { cleanupRedisPrefix, uniqueRedisPrefix } from '../support/redis.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const ADMIN_API_KEY = 'sk-e2e-platform-admin-0123456789abcdefghijkl';
const PASSWORD = 'a long enough password';

interface Setup {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

function flow(name: string, setup: () => Promise<Setup>) {
  describe(name, () => {
    let server: ServerProcess;
    let done: Setup | undefined;
    beforeAll(async () => {
      done = await setup();
      server = await startServerProcess({ ADMIN_API_KEY, ...done.env });
    });
    afterAll(async () => {
      await server?.stop();
      await done?.cleanup();
    });

    async function call(method: string, path: string, token?: string, body?: unknown) {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, string>) : {} };
    }

    it('admin → organization → users → login → refresh → scoped key with the SDK → logout', async () => {
      const org = await call('POST', '/v1/organizations', ADMIN_API_KEY, { name: 'e2e-corp' });
      expect(org.status).toBe(201);
      const admin = await call('POST', '/v1/users', ADMIN_API_KEY, {
        email: 'boss@e2e.test',
        password: PASSWORD,
        role: 'admin',
        organization_id: org.body.id,
      });
      expect(admin.status).toBe(201);
      const adminLogin = await call('POST', '/v1/auth/token', undefined, {
        email: 'boss@e2e.test',
        password: PASSWORD,
      });
      expect(adminLogin.status).toBe(200);
      const adminToken = adminLogin.body.access_token as string;
      for (const [email, role] of [
        ['member@e2e.test', 'member'],
        ['viewer@e2e.test', 'viewer'],
      ]) {
        expect(
          (await call('POST', '/v1/users', adminToken, { email, password: PASSWORD, role })).status,
        ).toBe(201);
      }

      const login = await call('POST', '/v1/auth/token', undefined, {
        email: 'member@e2e.test',
        password: PASSWORD,
      });
      expect(login.status).toBe(200);
      const refreshed = await call('POST', '/v1/auth/refresh', undefined, {
        refresh_token: login.body.refresh_token,
      });
      expect(refreshed.status).toBe(200);
      const memberToken = refreshed.body.access_token as string;

      const key = await call('POST', '/v1/api-keys', memberToken, {
        name: 'sdk',
        scopes: ['models:read', 'completions:write'],
      });
      expect(key.status).toBe(201);
      const client = new OpenAI({
        apiKey: key.body.secret as string,
        baseURL: `${server.url}/v1`,
        maxRetries: 0,
      });
      const completion = await client.chat.completions.create({
        model: 'tiny-wordnet',
        messages: [{ role: 'user', content: 'music (noun):' }],
        max_tokens: 8,
        temperature: 0,
      });
      expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);

      const viewerLogin = await call('POST', '/v1/auth/token', undefined, {
        email: 'viewer@e2e.test',
        password: PASSWORD,
      });
      const viewer = new OpenAI({
        apiKey: viewerLogin.body.access_token as string,
        baseURL: `${server.url}/v1`,
        maxRetries: 0,
      });
      await expect(
        viewer.completions.create({ model: 'tiny-wordnet', prompt: 'x', max_tokens: 2 }),
      ).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);

      expect((await call('POST', '/v1/auth/logout', memberToken)).status).toBe(204);
      expect((await call('GET', '/v1/models', memberToken)).status).toBe(401);
      // The API key is not a session: it keeps working until it is deleted.
      expect((await client.models.list()).data.length).toBeGreaterThan(0);
    });
  });
}

flow('on PostgreSQL and Redis', async () => {
  const db = await createTestDatabase();
  const prefix = uniqueRedisPrefix();
  return {
    env: { DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix },
    cleanup: async () => {
      await db.drop();
      await cleanupRedisPrefix(prefix);
    },
  };
});

flow('on the embedded default', async () => ({ env: {}, cleanup: async () => undefined }));
