import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_REPLY,
  startFakeAnthropic,
  startFakeOpenAI,
  type FakeUpstream,
} from '../support/fake-upstreams/index.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const ADMIN_API_KEY = 'sk-e2e-upstreams-admin-0123456789abcdefghij';

describe('the openai SDK through the gateway to upstream providers', () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let server: ServerProcess;
  let client: OpenAI;

  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-openai-upstream' });
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-upstream' });
    server = await startServerProcess({
      ADMIN_API_KEY,
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: 'sk-openai-upstream',
      ANTHROPIC_BASE_URL: anthropic.url,
      ANTHROPIC_API_KEY: 'sk-ant-upstream',
    });
    client = new OpenAI({ apiKey: ADMIN_API_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.stop();
    await openai?.close();
    await anthropic?.close();
  });

  for (const model of ['gpt-4o', 'claude-3-5-sonnet']) {
    it(`streams a chat on ${model}`, async () => {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say the sentence.' }],
        max_tokens: 64,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe(DEFAULT_REPLY);
      expect(finish).toBe('stop');
      expect(usage?.completion_tokens).toBeGreaterThan(0);
    });
  }
});
