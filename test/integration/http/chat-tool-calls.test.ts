import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';
import { createContractChecker } from '../../support/contract.js';
import { startFakeAnthropic, type FakeUpstream } from '../../support/fake-upstreams/index.js';

/**
 * Tool calls of a translating provider (Anthropic), as the client sees them: rendered by the
 * gateway in OpenAI's dialect, whole and streamed.
 */
const ANTHROPIC_KEY = 'sk-ant-key-for-chat-tool-calls';
const contract = createContractChecker();

let t: TestApp;
let anthropic: FakeUpstream;
beforeAll(async () => {
  anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY });
  t = await startTestApp({ ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: ANTHROPIC_KEY });
});
afterAll(async () => {
  await t?.close();
  await anthropic?.close();
});

async function post(payload: unknown) {
  return t.app.http.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { ...AUTH, 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });
}

const tool = (name: string) => ({
  type: 'function',
  function: {
    name,
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city', 'days'],
    },
  },
});
const request = {
  model: 'claude-3-5-sonnet',
  messages: [{ role: 'user', content: 'Weather and time in Oslo?' }],
  tools: [tool('get_weather'), tool('get_time')],
  tool_choice: 'required',
  max_tokens: 64,
};

interface ToolCallPiece {
  index: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}
interface Chunk {
  choices: {
    delta: { role?: string; content?: string | null; tool_calls?: ToolCallPiece[] };
    finish_reason: string | null;
  }[];
}

describe('tool calls of a translating provider', () => {
  it('come back whole as message.tool_calls with content null', async () => {
    const res = await post(request);
    expect(res.statusCode, res.body).toBe(200);
    const json = res.json();
    contract.response('POST', '/v1/chat/completions', 200, json);
    const [choice] = json.choices;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message).toMatchObject({ role: 'assistant', content: null, refusal: null });
    expect(
      choice.message.tool_calls.map((call: { function: { name: string } }) => call.function.name),
    ).toEqual(['get_weather', 'get_time']);
    for (const call of choice.message.tool_calls) {
      expect(call).toMatchObject({ type: 'function', id: expect.any(String) });
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'fake', days: 42 });
    }
  });

  it('stream as tool_calls deltas by index, named once, adding up to the same calls', async () => {
    const res = await post({ ...request, stream: true, stream_options: { include_usage: true } });
    expect(res.statusCode, res.body).toBe(200);
    const events = parseSse(res.body);
    expect(events.pop()).toBe('[DONE]');
    const chunks = events.map((event) => JSON.parse(event) as Chunk);
    for (const chunk of chunks) contract.schema('ChatCompletionChunk', chunk);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)?.choices).toEqual([]);

    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    for (const piece of chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])) {
      const known = calls.get(piece.index);
      if (known === undefined) {
        // The first piece of a call names it.
        expect(piece).toMatchObject({ type: 'function', id: expect.any(String) });
        expect(piece.function?.name).toBeTruthy();
        calls.set(piece.index, {
          id: piece.id as string,
          name: piece.function?.name as string,
          arguments: piece.function?.arguments ?? '',
        });
      } else {
        // Later pieces carry only argument text.
        expect(Object.keys(piece).sort()).toEqual(['function', 'index']);
        expect(Object.keys(piece.function ?? {})).toEqual(['arguments']);
        known.arguments += piece.function?.arguments ?? '';
      }
    }
    expect([...calls.keys()]).toEqual([0, 1]);
    expect([...calls.values()].map((call) => call.name)).toEqual(['get_weather', 'get_time']);
    const pieces = chunks.filter((chunk) => chunk.choices[0]?.delta.tool_calls).length;
    expect(pieces).toBeGreaterThan(4);
    for (const call of calls.values()) {
      expect(JSON.parse(call.arguments)).toEqual({ city: 'fake', days: 42 });
    }
  });

  it('take the whole round trip: the call, its result, then a text answer', async () => {
    const first = (await post(request)).json();
    const assistant = first.choices[0].message;
    const results = assistant.tool_calls.map((call: { id: string }) => ({
      role: 'tool',
      tool_call_id: call.id,
      content: '7°C, 14:00',
    }));
    const res = await post({
      ...request,
      tool_choice: 'auto',
      messages: [...request.messages, assistant, ...results],
    });
    expect(res.statusCode, res.body).toBe(200);
    const json = res.json();
    contract.response('POST', '/v1/chat/completions', 200, json);
    expect(json.choices[0].finish_reason).toBe('stop');
    expect(typeof json.choices[0].message.content).toBe('string');
    expect(json.choices[0].message.tool_calls).toBeUndefined();
    // The results went upstream as tool_result blocks of one user turn, answering those calls.
    const sent = anthropic.requests.at(-1)?.body?.messages as { role: string; content: unknown }[];
    const turn = sent.at(-1) as { role: string; content: { type: string; tool_use_id: string }[] };
    expect(turn.role).toBe('user');
    expect(turn.content.map((block) => [block.type, block.tool_use_id])).toEqual(
      assistant.tool_calls.map((call: { id: string }) => ['tool_result', call.id]),
    );
  });
});
