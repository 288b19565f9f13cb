import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { Redis } from 'ioredis';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { createKey, createTenant } from '../../support/tenant.js';

const proxy = new TcpProxy('127.0.0.1', 6379);
const prefix = uniqueRedisPrefix();
let t: TestApp;
let api: Api;

beforeAll(async () => {
  await proxy.start();
  t = await startTestApp({
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    REDIS_KEY_PREFIX: prefix,
  });
  api = apiClient(t.app.http);
});
afterAll(async () => {
  await t.close();
  await proxy.cut();
  await cleanupRedisPrefix(prefix);
});

async function remaining(token: string): Promise<{ status: number; remaining: number }> {
  const res = await api('GET', '/v1/models', { token });
  return { status: res.status, remaining: Number(res.headers['x-ratelimit-remaining']) };
}

async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('condition not reached within 25 s');
}

describe('when Redis fails', () => {
  it('keeps serving from the per-instance fallback, then returns to the shared limits', async () => {
    const tenant = await createTenant(api, 'outage');
    const key = await createKey(api, tenant, {
      requests_per_minute: 60,
      tokens_per_minute: 10_000,
    });
    for (let i = 0; i < 10; i += 1) expect((await remaining(key)).status).toBe(200);
    const beforeOutage = (await remaining(key)).remaining;
    expect(beforeOutage).toBeLessThanOrEqual(50);
    const redis = new Redis(REDIS_URL);
    const keyId = (await api('GET', '/v1/api-keys', { token: tenant.accessToken })).json<{
      data: { id: string }[];
    }>().data[0]?.id;
    const bucket = `${prefix}ratelimit:bucket:rpm:key:${keyId}`;
    expect(await redis.exists(bucket)).toBe(1);
    const sharedStampBefore = Number(await redis.hget(bucket, 'at'));

    await proxy.cut();
    // Requests still succeed; the fallback bucket is this instance's own, starting full.
    const during = [];
    for (let i = 0; i < 5; i += 1) during.push(await remaining(key));
    expect(during.every((r) => r.status === 200)).toBe(true);
    expect(during[0]?.remaining).toBeGreaterThan(beforeOutage);
    const warning = t.logs.find((line) =>
      String(line.msg).includes('rate-limit store unavailable'),
    );
    expect(warning?.level).toBe('warn');
    expect(Number(await redis.hget(bucket, 'at'))).toBe(sharedStampBefore);

    await proxy.start();
    // It probes Redis at most once a second and goes back to it on its own.
    await eventually(async () => {
      expect((await remaining(key)).status).toBe(200);
      return t.logs.some((line) => String(line.msg).includes('limits are shared again'));
    });
    await remaining(key);
    expect(Number(await redis.hget(bucket, 'at'))).toBeGreaterThan(sharedStampBefore);
    redis.disconnect();
  });
});

function sessionOf(accessToken: string): string {
  const payload = accessToken.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sid: string }).sid;
}

describe('revocations made while Redis is down', () => {
  it('stay in force once Redis is back: a logout and a user deletion', async () => {
    const loggedOut = await createTenant(api, 'outage-logout');
    const deleted = await createTenant(api, 'outage-delete');
    for (const tenant of [loggedOut, deleted]) {
      expect((await api('GET', '/v1/models', { token: tenant.accessToken })).status).toBe(200);
    }

    await proxy.cut();
    const logout = await api('POST', '/v1/auth/logout', { token: loggedOut.accessToken });
    expect(logout.status).toBe(204);
    const removal = await api('DELETE', `/v1/users/${deleted.userId}`, { token: ADMIN_KEY });
    expect(removal.status, removal.body).toBe(200);
    const revoked = [loggedOut.accessToken, deleted.accessToken];
    for (const token of revoked) {
      expect((await api('GET', '/v1/models', { token })).status).toBe(401);
    }

    await proxy.start();
    await eventually(async () => {
      for (const token of revoked) {
        expect((await api('GET', '/v1/models', { token })).status).toBe(401);
      }
      return t.logs.some((line) =>
        String(line.msg).includes('session revocations: shared store recovered'),
      );
    });
    // Redis itself holds them now, so every other instance refuses the tokens too.
    const redis = new Redis(REDIS_URL);
    for (const token of revoked) {
      expect(await redis.exists(`${prefix}revoked:session:${sessionOf(token)}`)).toBe(1);
    }
    redis.disconnect();
  });
});
