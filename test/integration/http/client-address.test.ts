import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api, type ApiResponse } from '../../support/client.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';

// The TLS proxy every proxied request arrives from, and the clients it forwards for.
const PROXY = '10.0.0.2';
const TRUSTED = '10.0.0.0/8';
const PASSWORD = 'correct horse battery staple';
const REFRESH = { refresh_token: 'rt_Yc2N0aGlzaXNhcmVmcmVzaHRva2Vu' };

type Backend = 'memory' | 'Redis';

function via(forwardedFor: string, remoteAddress = PROXY) {
  return { remoteAddress, headers: { 'x-forwarded-for': forwardedFor } };
}

/** Sends until the first 429, which must come within `limit` requests; returns how many passed. */
async function untilRefused(
  send: (attempt: number) => Promise<ApiResponse>,
  limit: number,
): Promise<{ passed: number; refused: ApiResponse }> {
  for (let attempt = 0; attempt < limit; attempt += 1) {
    const res = await send(attempt);
    if (res.status === 429) return { passed: attempt, refused: res };
    expect(res.status, res.body).toBe(401);
  }
  throw new Error(`no 429 within ${limit} requests`);
}

async function startApp(backend: Backend, env: Record<string, string>, prefixes: string[]) {
  const shared: Record<string, string> = {};
  if (backend === 'Redis') {
    const prefix = uniqueRedisPrefix();
    prefixes.push(prefix);
    Object.assign(shared, { REDIS_URL, REDIS_KEY_PREFIX: prefix });
  }
  const t = await startTestApp({ ...shared, ...env });
  return { t, api: apiClient(t.app.http) };
}

describe.each<Backend>(['memory', 'Redis'])('client addresses with the %s throttle', (backend) => {
  const prefixes: string[] = [];
  const apps: TestApp[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
    await Promise.all(prefixes.map((prefix) => cleanupRedisPrefix(prefix)));
  });

  describe('behind a trusted proxy: sign-in throttling', () => {
    let t: TestApp;
    let api: Api;
    const signIn = (email: string, password: string, client: string) =>
      api('POST', '/v1/auth/token', { body: { email, password }, ...via(client) });

    beforeAll(async () => {
      ({ t, api } = await startApp(backend, { TRUST_PROXY: TRUSTED }, prefixes));
      apps.push(t);
      const org = await api('POST', '/v1/organizations', {
        token: ADMIN_KEY,
        body: { name: 'proxied' },
      });
      expect(org.status, org.body).toBe(201);
      for (const email of ['owner@proxied.test', 'target@proxied.test']) {
        const user = await api('POST', '/v1/users', {
          token: ADMIN_KEY,
          body: {
            email,
            password: PASSWORD,
            role: 'member',
            organization_id: org.json<{ id: string }>().id,
          },
        });
        expect(user.status, user.body).toBe(201);
      }
    });

    it('throttles the guessing address, not the owner signing in from elsewhere', async () => {
      const attacker = '198.51.100.1';
      const { refused } = await untilRefused(
        (i) => signIn('owner@proxied.test', `wrong-${i}`, attacker),
        12, // the delay or the refusal comes by the 10th failure
      );
      expect(refused.json().error).toMatchObject({ code: 'RATE_LIMITED' });
      const owner = await signIn('owner@proxied.test', PASSWORD, '198.51.100.2');
      expect(owner.status, owner.body).toBe(200);
    });

    it('lets the owner in past failures from many addresses, and refuses further wrong guesses', async () => {
      // Two failures from each of twelve addresses: no address is slowed, the account is.
      for (let client = 1; client <= 12; client += 1) {
        for (let i = 0; i < 2; i += 1) {
          const res = await signIn('target@proxied.test', `wrong-${i}`, `192.0.2.${client}`);
          expect(res.status, res.body).toBeOneOf([401, 429]);
        }
      }
      // A wrong guess from yet another address is refused once the account's delay or refusal
      // applies, which the tenth counted failure makes certain.
      const { refused: guess } = await untilRefused(
        (i) => signIn('target@proxied.test', 'still-wrong', `192.0.2.${100 + i}`),
        10,
      );
      expect(guess.json().error).toMatchObject({ code: 'RATE_LIMITED' });
      expect(Number(guess.headers['retry-after'])).toBeGreaterThan(0);
      expect(t.logs).toContainEqual(
        expect.objectContaining({ limit: 'sign_in', refused_by: 'account' }),
      );
      const owner = await signIn('target@proxied.test', PASSWORD, '192.0.2.200');
      expect(owner.status, owner.body).toBe(200);
    });

    it('throttles an address trying many accounts separately from its neighbours', async () => {
      const sprayer = '198.51.100.10';
      const { refused } = await untilRefused(
        (i) => signIn(`nobody-${i}@proxied.test`, 'wrong-password', sprayer),
        35,
      );
      expect(refused.json().error).toMatchObject({ code: 'RATE_LIMITED' });
      expect(t.logs).toContainEqual(
        expect.objectContaining({ limit: 'sign_in', refused_by: 'address' }),
      );
      const neighbour = await signIn('nobody@proxied.test', 'wrong-password', '198.51.100.11');
      expect(neighbour.status, neighbour.body).toBe(401);
      const owner = await signIn('owner@proxied.test', PASSWORD, '198.51.100.12');
      expect(owner.status, owner.body).toBe(200);
    });
  });

  describe('behind a trusted proxy: the per-address request limit', () => {
    let api: Api;

    beforeAll(async () => {
      let t: TestApp;
      ({ t, api } = await startApp(
        backend,
        { TRUST_PROXY: TRUSTED, RATE_LIMIT_ADDRESS_RPM: '5' },
        prefixes,
      ));
      apps.push(t);
    });

    it('gives each forwarded client a bucket of its own', async () => {
      const refresh = (client: string) =>
        api('POST', '/v1/auth/refresh', { body: REFRESH, ...via(client) });
      const { passed, refused } = await untilRefused(() => refresh('198.51.100.20'), 10);
      expect(passed).toBeGreaterThanOrEqual(5);
      expect(refused.json().error).toMatchObject({ code: 'RATE_LIMITED' });
      expect((await refresh('198.51.100.21')).status).toBe(401);
    });

    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const direct = '203.0.113.50';
      await untilRefused(
        (i) =>
          api('POST', '/v1/auth/refresh', { body: REFRESH, ...via(`192.0.2.${i + 1}`, direct) }),
        10,
      );
    });
  });

  describe('without TRUST_PROXY', () => {
    let api: Api;

    beforeAll(async () => {
      let t: TestApp;
      ({ t, api } = await startApp(backend, { RATE_LIMIT_ADDRESS_RPM: '5' }, prefixes));
      apps.push(t);
    });

    it('keys every limit on the socket address, whatever X-Forwarded-For claims', async () => {
      await untilRefused(
        (i) => api('POST', '/v1/auth/refresh', { body: REFRESH, ...via(`192.0.2.${i + 1}`) }),
        10,
      );
      // Another client behind the same proxy shares the proxy's bucket.
      const other = await api('POST', '/v1/auth/refresh', {
        body: REFRESH,
        ...via('198.51.100.30'),
      });
      expect(other.status).toBe(429);
    });
  });
});
