import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';
import { createContractChecker } from '../../support/contract.js';

let t: TestApp;
const contract = createContractChecker();
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

async function call(
  method: 'GET' | 'POST' | 'DELETE' | 'PUT',
  url: string,
  payload?: unknown,
  headers = AUTH,
) {
  const res = await t.app.http.inject({
    method,
    url,
    headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
  return { status: res.statusCode, body: res.body, json: () => JSON.parse(res.body) as unknown };
}

describe('responses match openapi/openapi.yaml', () => {
  it('models', async () => {
    const list = await call('GET', '/v1/models');
    contract.response('GET', '/v1/models', list.status, list.json());
    const one = await call('GET', '/v1/models/tiny-wordnet');
    contract.response('GET', '/v1/models/{id}', one.status, one.json());
  });

  it('completions and chat completions', async () => {
    const completion = await call('POST', '/v1/completions', {
      model: 'tiny-wordnet',
      prompt: 'Hello',
      max_tokens: 5,
    });
    contract.response('POST', '/v1/completions', completion.status, completion.json());
    const chat = await call('POST', '/v1/chat/completions', {
      model: 'tiny-wordnet',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 5,
    });
    contract.response('POST', '/v1/chat/completions', chat.status, chat.json());
    const parts = await call('POST', '/v1/chat/completions', {
      model: 'tiny-wordnet',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
      ],
      max_completion_tokens: 5,
    });
    contract.response('POST', '/v1/chat/completions', parts.status, parts.json());
    expect(parts.json()).toMatchObject({
      choices: [{ message: { role: 'assistant', refusal: null }, logprobs: null }],
    });
  });

  it('every streamed chunk', async () => {
    for (const [url, payload, schema] of [
      ['/v1/completions', { prompt: 'Hi there' }, 'CompletionChunk'],
      [
        '/v1/chat/completions',
        { messages: [{ role: 'user', content: 'Hi' }] },
        'ChatCompletionChunk',
      ],
    ] as const) {
      const res = await call('POST', url, {
        model: 'tiny-wordnet',
        max_tokens: 8,
        stream: true,
        stream_options: { include_usage: true },
        ...payload,
      });
      const events = parseSse(res.body);
      expect(events.pop()).toBe('[DONE]');
      for (const event of events) contract.schema(schema, JSON.parse(event));
    }
  });

  it('health, readiness and the document', async () => {
    for (const path of ['/healthz', '/readyz'] as const) {
      const res = await call('GET', path, undefined, {} as typeof AUTH);
      contract.response('GET', path, res.status, res.json());
    }
  });

  it('errors', async () => {
    const cases: [string, string, number, Awaited<ReturnType<typeof call>>][] = [
      [
        'POST',
        '/v1/completions',
        422,
        await call('POST', '/v1/completions', { model: 'tiny-wordnet', prompt: '' }),
      ],
      [
        'POST',
        '/v1/completions',
        401,
        await call('POST', '/v1/completions', {}, {} as typeof AUTH),
      ],
      ['GET', '/v1/models/{id}', 404, await call('GET', '/v1/models/ghost')],
      // A field the routed model cannot honour, named with the model.
      [
        'POST',
        '/v1/chat/completions',
        422,
        await call('POST', '/v1/chat/completions', {
          model: 'tiny-wordnet',
          messages: [{ role: 'user', content: 'Hi' }],
          logprobs: true,
        }),
      ],
    ];
    for (const [method, path, status, res] of cases) {
      expect(res.status).toBe(status);
      contract.response(method, path, status, res.json());
    }
    const methodNotAllowed = await call('PUT', '/v1/models');
    expect(methodNotAllowed.status).toBe(405);
    contract.schema('ErrorResponse', methodNotAllowed.json());
  });
});
