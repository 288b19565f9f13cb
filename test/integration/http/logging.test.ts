import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, AUTH, startTestApp, type TestApp } from '../../support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('structured request logs', () => {
  it('writes one start and one end line per request with the contract fields', async () => {
    await t.app.http.inject({
      method: 'GET',
      url: '/v1/models/tiny-wordnet',
      headers: { ...AUTH, 'x-request-id': 'log-test-1' },
    });
    const lines = t.logs.filter((line) => line.request_id === 'log-test-1');
    const start = lines.filter((line) => line.msg === 'request start');
    const end = lines.filter((line) => line.msg === 'request end');
    expect(start).toHaveLength(1);
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({
      method: 'GET',
      route: '/v1/models/:id',
      status_code: 200,
      principal_id: expect.stringMatching(/^key_/),
      level: 'info',
    });
    expect(typeof end[0]?.duration_ms).toBe('number');
  });

  it('never logs credentials or prompt text', async () => {
    const secretPrompt = 'ultra-secret-prompt-words zebra quokka';
    const secretMessage = 'classified-chat-content narwhal';
    await t.app.http.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: { model: 'tiny-wordnet', prompt: secretPrompt, max_tokens: 3 },
    });
    await t.app.http.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: {
        model: 'tiny-wordnet',
        messages: [{ role: 'user', content: secretMessage }],
        stream: true,
      },
    });
    // Rejected requests too: bad JSON quoting the body, and a wrong key.
    await t.app.http.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: `{"prompt": "${secretPrompt}", oops`,
    });
    await t.app.http.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { authorization: 'Bearer sk-wrong-key-ocelot' },
    });
    const raw = t.rawLogs();
    expect(raw.length).toBeGreaterThan(0);
    for (const secret of [
      ADMIN_KEY,
      'sk-wrong-key-ocelot',
      'zebra',
      'quokka',
      'narwhal',
      'Bearer',
    ]) {
      expect(raw).not.toContain(secret);
    }
  });
});
