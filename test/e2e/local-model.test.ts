import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeEndlessModel } from '../support/endless-model.js';
import {
  freePort,
  runProcess,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process.js';

const ADMIN_API_KEY = 'sk-e2e-admin-key-0123456789abcdefghijklmnop';
const BUNDLED = path.resolve('models/tiny-wordnet.gguf');
const LONG_MAX_TOKENS = 4000;

let server: ServerProcess;
let client: OpenAI;
let metricsUrl: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inference-api-local-'));
  const modelsFile = path.join(dir, 'models.yaml');
  // The bundled model, unable to end its text, with a context far beyond its training: it
  // writes until max_tokens, long enough to act on a generation mid-way.
  const endless = path.join(dir, 'endless.gguf');
  await writeEndlessModel(BUNDLED, endless);
  await writeFile(
    modelsFile,
    [
      'models:',
      '  - id: tiny-wordnet-long',
      '    targets:',
      '      - provider: local',
      '        model: tiny-wordnet-long',
      `        path: ${endless}`,
      '        context_size: 4096',
      '        contexts: 1',
    ].join('\n'),
  );
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  server = await startServerProcess({
    ADMIN_API_KEY,
    MODELS_FILE: modelsFile,
    METRICS_PORT: String(metricsPort),
    RESPONSE_CACHE_TTL_SECONDS: '0',
  });
  client = new OpenAI({ apiKey: ADMIN_API_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('the built-in model through the openai SDK', () => {
  it('completes, streamed and not, with the same greedy text and usage', async () => {
    const request = {
      model: 'tiny-wordnet',
      prompt: 'dog (noun):',
      max_tokens: 40,
      temperature: 0,
    };
    const whole = await client.completions.create(request);
    const choice = whole.choices[0];
    expect(choice?.text.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(choice?.finish_reason);
    let streamed = '';
    let usage: OpenAI.CompletionUsage | undefined;
    const stream = await client.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(streamed).toBe(choice?.text);
    expect(usage).toEqual(whole.usage);
    expect(whole.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('answers a chat, streamed and not, as plain-text continuation of the messages', async () => {
    const request = {
      model: 'tiny-wordnet',
      messages: [{ role: 'user' as const, content: 'music (noun):' }],
      max_tokens: 40,
      temperature: 0,
    };
    const whole = await client.chat.completions.create(request);
    const content = whole.choices[0]?.message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    expect(content).not.toMatch(/^\s/);
    let streamed = '';
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(streamed).toBe(content);
  });

  it('keeps /healthz answering during a long generation, and stops it when the client leaves', async () => {
    const controller = new AbortController();
    const stream = await client.completions.create(
      {
        model: 'tiny-wordnet-long',
        prompt: 'dog (noun):',
        max_tokens: LONG_MAX_TOKENS,
        temperature: 0,
        stream: true,
      },
      { signal: controller.signal },
    );
    let received = 0;
    let health: Response | undefined;
    try {
      for await (const chunk of stream) {
        received += 1;
        expect(chunk.choices[0]?.finish_reason ?? null).toBeNull();
        // Mid-generation: the server still answers other requests.
        if (received === 20) health = await fetch(`${server.url}/healthz`);
        if (received === 40) controller.abort();
      }
    } catch (error) {
      expect((error as Error).name).toMatch(/Abort/);
    }
    expect(health?.status).toBe(200);
    // Recorded as cancelled; llama.cpp stopped far short of what it was allowed to write.
    const labels = 'model="tiny-wordnet-long",endpoint="completions",outcome="cancelled"';
    await expect.poll(() => metric('inference_requests_total', labels)).toBe(1);
    const stopped = await vi.waitFor(() => {
      const line = server
        .output()
        .split('\n')
        .find((l) => l.includes('"local generation stopped early"'));
      if (!line) throw new Error('no "local generation stopped early" log line yet');
      return JSON.parse(line) as { model: string; completion_tokens: number };
    });
    expect(stopped.model).toBe('tiny-wordnet-long');
    expect(stopped.completion_tokens).toBeGreaterThanOrEqual(40);
    expect(stopped.completion_tokens).toBeLessThan(LONG_MAX_TOKENS / 2);
  });
});

describe('local model start-up errors', () => {
  it('refuses to start on a missing or corrupt GGUF, naming the model and file', async () => {
    const corrupt = path.join(dir, 'corrupt.gguf');
    await writeFile(corrupt, Buffer.from('GGUF this is not a model'));
    for (const [file, reason] of [
      [path.join(dir, 'missing.gguf'), /cannot read the file \(ENOENT\)/],
      [corrupt, /not a loadable GGUF model/],
    ] as const) {
      const modelsFile = path.join(dir, 'broken.yaml');
      await writeFile(
        modelsFile,
        `models:\n  - id: broken\n    targets:\n      - provider: local\n        model: broken\n        path: ${file}\n`,
      );
      const { code, output } = await runProcess({
        MODELS_FILE: modelsFile,
        DATA_DIR: await mkdtemp(path.join(dir, 'data-')),
        PORT: String(await freePort()),
        METRICS_PORT: '0',
      });
      expect(code).toBe(1);
      expect(output).toContain(`local model "broken" (${file})`);
      expect(output).toMatch(reason);
      expect(output).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
