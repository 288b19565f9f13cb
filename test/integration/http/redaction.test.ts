import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { createKey, createTenant, TENANT_PASSWORD, type Tenant } from '../../support/tenant.js';

type Method = Parameters<Api>[0];
type Options = NonNullable<Parameters<Api>[2]>;
type TokenPair = Record<'access_token' | 'refresh_token', string>;
type LogLine = Record<string, unknown>;

// Every planted value carries this marker, so even a truncated copy of one in the log is found.
const MARK = 'qz7xv9';
const canary = (what: string) => `${MARK}-${what}-${MARK}`;
const C = {
  password: canary('password'),
  newPassword: canary('new-password'),
  wrongPassword: canary('wrong-password'),
  shortPassword: `${MARK}short`, // one below the 12-character minimum
  prompt: canary('prompt'),
  message: canary('chat-message'),
  embedded: canary('embedding-input'),
  wrongKey: `sk-${canary('wrong-key')}`,
  // Shaped like a generated key, so the lookup-by-prefix path runs too.
  wrongGeneratedKey: `sk-${MARK}Canary_${canary('random').padEnd(43, 'x')}`,
  forgedJwt: `eyJ${MARK}.eyJ${MARK}.${MARK}`,
  forgedRefresh: `rt_${canary('forged-refresh')}`,
  path: canary('path'),
  query: canary('query'),
  badJson: canary('bad-json'),
};
// Without MARK, so that a regression fails this one case rather than every other.
const FIELD_NAME = 'wq8mz3-secret-as-a-field-name';
const MEMBER_EMAIL = 'member@redaction.test';
// A key may not exceed its owner's limits, which are the configured defaults.
const KEY_LIMITS = { requests_per_minute: 600, tokens_per_minute: 200_000 };

/** Everything that must never be logged; the API's own secrets join as it hands them out. */
const secrets = new Set<string>([ADMIN_KEY, TENANT_PASSWORD, ...Object.values(C)]);
const keep = (...values: string[]) => values.forEach((value) => secrets.add(value));
const SHAPES = [
  new RegExp(MARK, 'i'),
  /bearer\s+\S/i,
  /\bsk-[A-Za-z0-9]/,
  /eyJ[\w-]+\.eyJ[\w-]+\./,
  /\brt_[\w-]{16,}/,
];

function leaksIn(logs: string): string[] {
  // The tail too: a logger that truncates long values would still give a secret away.
  const fragments = [...secrets].flatMap((s) => (s.length >= 32 ? [s, s.slice(-16)] : [s]));
  return [
    ...fragments.filter((fragment) => logs.includes(fragment)),
    ...SHAPES.filter((shape) => shape.test(logs)).map(String),
  ];
}

const HTTP_METHODS = new Set(['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE']);

function documentedOperations(): string[] {
  const file = readFileSync(new URL('../../../openapi/openapi.yaml', import.meta.url), 'utf8');
  const { paths } = parse(file) as { paths: Record<string, object> };
  return Object.entries(paths)
    .flatMap(([path, item]) => Object.keys(item).map((key) => `${key.toUpperCase()} ${path}`))
    .filter((operation) => HTTP_METHODS.has(operation.split(' ')[0] ?? ''))
    .sort();
}

/** Guards against a case that only ever got rejected before reaching its handler. */
function servedOk(lines: LogLine[], method: string, template: string): boolean {
  const route = template.replace(/\{(\w+)\}/g, ':$1');
  const ok = (line: LogLine) => line.method === method && Number(line.status_code) < 400;
  return lines.some((line) => line.msg === 'request end' && line.route === route && ok(line));
}

let t: TestApp;
let api: Api;
let admin: Tenant;
let memberId: string;
let memberToken: string;
let memberKey: string;

async function send(method: Method, url: string, status: number, options: Options = {}) {
  const res = await api(method, url, options);
  expect(res.status, `${method} ${url}: ${res.body}`).toBe(status);
  return res;
}

async function sendRaw(method: Method, url: string, status: number, payload: string, type: string) {
  const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': type };
  const res = await t.app.http.inject({ method, url, payload, headers });
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(status);
}

async function signIn(email: string, password: string): Promise<TokenPair> {
  const res = await send('POST', '/v1/auth/token', 200, { body: { email, password } });
  const pair = res.json<TokenPair>();
  keep(pair.access_token, pair.refresh_token);
  return pair;
}

async function createUser(email: string, password = C.password): Promise<string> {
  const body = { email, password, role: 'member' };
  const res = await send('POST', '/v1/users', 201, { token: admin.accessToken, body });
  return res.json<{ id: string }>().id;
}

async function createMemberKey(): Promise<{ id: string; secret: string }> {
  const body = { name: 'made', scopes: ['models:read'] };
  const res = await send('POST', '/v1/api-keys', 201, { token: memberToken, body });
  const key = res.json<{ id: string; secret: string }>();
  keep(key.secret);
  return key;
}

/** Wrong credentials, secrets in the URL and unparseable bodies: the same for every route. */
async function probe(method: Method, template: string): Promise<void> {
  const url = template.replace(/\{\w+\}/g, C.path);
  const bearers = [C.wrongKey, C.wrongGeneratedKey, C.forgedJwt].map((c) => `Bearer ${c}`);
  for (const authorization of [...bearers, `Basic ${C.wrongKey}`]) {
    await api(method, url, { headers: { authorization } });
  }
  await api(method, `${url}?cursor=${C.query}&api_key=${C.wrongKey}`, { token: ADMIN_KEY });
  if (method === 'POST' || method === 'PATCH') {
    const quoted = `{"password": "${C.badJson}", "prompt": "${C.badJson}", oops`;
    await sendRaw(method, url, 400, quoted, 'application/json');
    await sendRaw(method, url, 415, C.badJson, 'text/plain');
  }
}

const COMPLETION = { model: 'tiny-wordnet', prompt: C.prompt, max_tokens: 4 };
const CHAT = {
  model: 'tiny-wordnet',
  messages: [
    { role: 'system', content: C.message },
    { role: 'user', content: C.message },
  ],
  max_tokens: 4,
};
const okGet = (url: string) => () => send('GET', url, 200, { token: memberKey });

/** One case per documented operation, keyed like the OpenAPI document. */
const ROUTES: Record<string, () => Promise<unknown>> = {
  'GET /v1/models': () => send('GET', '/v1/models', 200, { token: memberToken }),
  'GET /v1/models/{id}': okGet('/v1/models/tiny-wordnet'),
  'POST /v1/completions': async () => {
    const post = (status: number, body: object, token = memberKey) =>
      send('POST', '/v1/completions', status, { token, body: { ...COMPLETION, ...body } });
    await post(200, {});
    await post(200, { stream: true }, memberToken);
    await post(422, { temperature: 9 });
    await post(422, { prompt: `${C.prompt}\u0000` });
    await post(422, { model: C.prompt });
    await post(422, { api_key: C.wrongKey });
    await post(413, { prompt: C.prompt.repeat(60_000) });
  },
  'POST /v1/chat/completions': async () => {
    const post = (status: number, body: object, token = memberKey) =>
      send('POST', '/v1/chat/completions', status, { token, body: { ...CHAT, ...body } });
    await post(200, {});
    await post(200, { stream: true }, memberToken);
    await post(422, { messages: [{ role: 'wizard', content: C.message }] });
    await post(422, { messages: [{ role: 'user', content: `${C.message}\u0000` }] });
  },
  'POST /v1/embeddings': async () => {
    const post = (status: number, body: object, token = memberKey) =>
      send('POST', '/v1/embeddings', status, {
        token,
        body: { model: 'tiny-wordnet', input: C.embedded, ...body },
      });
    await post(200, {});
    await post(200, { input: [C.embedded, C.embedded] }, memberToken);
    await post(422, { input: `${C.embedded}\u0000` });
    await post(422, { model: C.embedded });
  },
  'POST /v1/auth/token': async () => {
    await signIn(MEMBER_EMAIL, C.password);
    const login = (status: number, body: object) =>
      send('POST', '/v1/auth/token', status, { body });
    await login(401, { email: MEMBER_EMAIL, password: C.wrongPassword });
    await login(401, { email: 'nobody@redaction.test', password: C.wrongPassword });
    await login(422, { password: C.wrongPassword });
    await login(422, { email: MEMBER_EMAIL, password: C.wrongPassword.repeat(20) });
  },
  'POST /v1/auth/refresh': async () => {
    const spent = (await signIn(MEMBER_EMAIL, C.password)).refresh_token;
    const refresh = (status: number, token: string) =>
      send('POST', '/v1/auth/refresh', status, { body: { refresh_token: token } });
    const pair = (await refresh(200, spent)).json<TokenPair>();
    keep(pair.access_token, pair.refresh_token);
    // Reuse revokes the session and writes a warning: the line must name the session only.
    await refresh(401, spent);
    await refresh(401, C.forgedRefresh);
    await refresh(422, `${C.forgedRefresh} !`);
  },
  'POST /v1/auth/logout': async () => {
    const { access_token: token } = await signIn(MEMBER_EMAIL, C.password);
    await send('POST', '/v1/auth/logout', 204, { token });
    await send('POST', '/v1/auth/logout', 401, { token });
    await send('POST', '/v1/auth/logout', 403, { token: memberKey });
  },
  'POST /v1/organizations': async () => {
    const body = { name: 'redaction-extra' };
    await send('POST', '/v1/organizations', 201, { token: ADMIN_KEY, body });
    const withSecret = { ...body, secret: C.wrongKey };
    await send('POST', '/v1/organizations', 422, { token: ADMIN_KEY, body: withSecret });
  },
  'GET /v1/organizations': () => send('GET', '/v1/organizations', 200, { token: ADMIN_KEY }),
  'POST /v1/users': async () => {
    await createUser('second@redaction.test');
    const create = (status: number, password: string, email = 'third@redaction.test') =>
      send('POST', '/v1/users', status, { token: admin.accessToken, body: { email, password } });
    await create(409, C.newPassword, MEMBER_EMAIL);
    await create(422, C.shortPassword);
    await create(422, `${C.newPassword}\u0000`);
  },
  'GET /v1/users': () => send('GET', '/v1/users', 200, { token: admin.accessToken }),
  'GET /v1/users/{id}': () => send('GET', `/v1/users/${memberId}`, 200, { token: ADMIN_KEY }),
  'PATCH /v1/users/{id}': async () => {
    const email = 'patched@redaction.test';
    const url = `/v1/users/${await createUser(email)}`;
    const patch = (status: number, body: object) =>
      send('PATCH', url, status, { token: admin.accessToken, body });
    await patch(200, { password: C.newPassword });
    await send('POST', '/v1/auth/token', 401, { body: { email, password: C.password } });
    await signIn(email, C.newPassword);
    await patch(422, { password: C.shortPassword });
    await patch(422, { password: C.newPassword, secret: C.wrongKey });
  },
  'DELETE /v1/users/{id}': async () => {
    const id = await createUser('deleted@redaction.test');
    const { access_token: token } = await signIn('deleted@redaction.test', C.password);
    await send('DELETE', `/v1/users/${id}`, 200, { token: admin.accessToken });
    await send('GET', '/v1/models', 401, { token });
  },
  'GET /v1/users/{id}/sessions': () =>
    send('GET', `/v1/users/${memberId}/sessions`, 200, { token: memberToken }),
  'DELETE /v1/sessions/{id}': async () => {
    const { access_token: token } = await signIn(MEMBER_EMAIL, C.password);
    const sessions = await send('GET', `/v1/users/${memberId}/sessions?limit=100`, 200, { token });
    const current = sessions.json<{ data: { id: string; current: boolean }[] }>().data;
    const id = current.find((session) => session.current)?.id ?? 'missing';
    await send('DELETE', `/v1/sessions/${id}`, 200, { token: admin.accessToken });
    await send('GET', '/v1/models', 401, { token });
  },
  'POST /v1/api-keys': async () => {
    const body = { name: 'replayed', scopes: ['models:read'] };
    const options = { token: memberToken, body, headers: { 'idempotency-key': 'redaction-1' } };
    const res = await send('POST', '/v1/api-keys', 201, options);
    const { secret } = res.json<{ secret: string }>();
    keep(secret);
    // The retry replays the key without its secret instead of creating another.
    await send('POST', '/v1/api-keys', 200, options);
    await send('GET', '/v1/models', 200, { token: secret });
    const withSecret = { ...body, secret: C.wrongKey };
    await send('POST', '/v1/api-keys', 422, { token: memberKey, body: withSecret });
  },
  'GET /v1/api-keys': () => send('GET', '/v1/api-keys', 200, { token: memberToken }),
  'GET /v1/api-keys/{id}': async () => {
    const { id } = await createMemberKey();
    await send('GET', `/v1/api-keys/${id}`, 200, { token: memberKey });
  },
  'DELETE /v1/api-keys/{id}': async () => {
    const { id, secret } = await createMemberKey();
    await send('DELETE', `/v1/api-keys/${id}`, 200, { token: memberToken });
    await send('GET', '/v1/models', 401, { token: secret });
  },
  'GET /v1/usage': okGet('/v1/usage'),
  // Public routes get a credential too: one they ignore must not be logged either.
  'GET /.well-known/jwks.json': okGet('/.well-known/jwks.json'),
  'GET /healthz': okGet('/healthz'),
  'GET /readyz': okGet('/readyz'),
  'GET /openapi.json': okGet('/openapi.json'),
  'GET /openapi.yaml': okGet('/openapi.yaml'),
  'GET /docs': okGet('/docs'),
};

beforeAll(async () => {
  // Every route is probed with wrong credentials, far beyond the per-address default.
  t = await startTestApp({ RATE_LIMIT_ADDRESS_RPM: '100000' });
  api = apiClient(t.app.http);
  admin = await createTenant(api, 'redaction', 'admin');
  keep(admin.accessToken);
  memberId = await createUser(MEMBER_EMAIL);
  memberToken = (await signIn(MEMBER_EMAIL, C.password)).access_token;
  const member = { ...admin, userId: memberId, accessToken: memberToken };
  const scopes = ['models:read', 'completions:write', 'usage:read', 'api_keys:write'];
  memberKey = await createKey(api, member, KEY_LIMITS, scopes);
  keep(memberKey);
});
afterAll(async () => {
  await t.close();
});

describe('no credential, password or prompt reaches the log', () => {
  it('has a case for every operation in openapi/openapi.yaml', () => {
    expect(Object.keys(ROUTES).sort()).toEqual(documentedOperations());
  });

  it.each(Object.entries(ROUTES))('%s', async (operation, exercise) => {
    const [method, template] = operation.split(' ') as [Method, string];
    const [fromChar, fromLine] = [t.rawLogs().length, t.logs.length];
    await exercise();
    await probe(method, template);
    const served = servedOk(t.logs.slice(fromLine), method, template);
    expect(served, 'no request was served by the route').toBe(true);
    expect(leaksIn(t.rawLogs().slice(fromChar))).toEqual([]);
  });

  // The 422 names an unknown field to the client; the log line must not, as the client chose it.
  it('an unknown field or query parameter named with a secret', async () => {
    const from = t.rawLogs().length;
    const body = { ...COMPLETION, [FIELD_NAME]: 1 };
    await send('POST', '/v1/completions', 422, { token: memberKey, body });
    await send('GET', `/v1/models?${FIELD_NAME}=1`, 422, { token: memberKey });
    expect(t.rawLogs().slice(from)).not.toContain(FIELD_NAME);
  });

  it('holds for the whole log, lines written after their request included', () => {
    expect(t.rawLogs()).toContain('request end');
    expect(leaksIn(t.rawLogs())).toEqual([]);
  });
});
