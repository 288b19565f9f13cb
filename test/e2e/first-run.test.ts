import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/postgres.js';
import { runProcess, startServerProcess, type ServerProcess } from '../support/server-process.js';

const ADMIN_API_KEY = 'sk-e2e-admin-key-0123456789abcdefghijklmnop';

function curl(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('curl', args);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

function suite(
  name: string,
  env: () => Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>,
) {
  describe(name, () => {
    let server: ServerProcess;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      const setup = await env();
      cleanup = setup.cleanup;
      server = await startServerProcess({ ADMIN_API_KEY, ...setup.env });
    });
    afterAll(async () => {
      await server?.stop();
      await cleanup?.();
    });

    it('streams a chat completion to the official openai SDK', async () => {
      const client = new OpenAI({
        apiKey: ADMIN_API_KEY,
        baseURL: `${server.url}/v1`,
        maxRetries: 0,
      });
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toContain('tiny-wordnet');
      const stream = await client.chat.completions.create({
        model: 'tiny-wordnet',
        // Greedy on a dictionary-style prompt: the built-in model certainly writes something.
        messages: [{ role: 'user', content: 'dog (noun):' }],
        temperature: 0,
        max_tokens: 24,
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
      expect(text.length).toBeGreaterThan(0);
      expect(['stop', 'length']).toContain(finish);
      expect(usage?.completion_tokens).toBeGreaterThan(0);
      expect(usage?.completion_tokens).toBeLessThanOrEqual(24);
    });

    it('maps errors onto the SDK error classes', async () => {
      const client = new OpenAI({
        apiKey: ADMIN_API_KEY,
        baseURL: `${server.url}/v1`,
        maxRetries: 0,
      });
      const error = await client.completions
        .create({ model: 'tiny-wordnet', prompt: 'x', temperature: 5 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.UnprocessableEntityError);
      const bad = new OpenAI({ apiKey: 'sk-nope', baseURL: `${server.url}/v1`, maxRetries: 0 });
      await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    });

    it('streams a chat completion to curl', async () => {
      const { code, stdout } = await curl([
        '-sS',
        '-N',
        `${server.url}/v1/chat/completions`,
        '-H',
        `Authorization: Bearer ${ADMIN_API_KEY}`,
        '-H',
        'Content-Type: application/json',
        '-d',
        JSON.stringify({
          model: 'tiny-wordnet',
          messages: [{ role: 'user', content: 'Hello' }],
          stream: true,
          max_tokens: 8,
        }),
      ]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^data: \{/);
      expect(stdout.trim().endsWith('data: [DONE]')).toBe(true);
    });

    it('drains an in-flight stream on SIGTERM, then exits 0', async () => {
      const client = new OpenAI({
        apiKey: ADMIN_API_KEY,
        baseURL: `${server.url}/v1`,
        maxRetries: 0,
      });
      const stream = await client.completions.create({
        model: 'tiny-wordnet',
        prompt: 'The long story of the river begins',
        max_tokens: 2000,
        temperature: 1,
        stream: true,
      });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.done).toBe(false);
      server.child.kill('SIGTERM');
      let finish: string | null = null;
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        finish = next.value.choices[0]?.finish_reason ?? finish;
      }
      expect(['stop', 'length']).toContain(finish);
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('shutdown complete');
    });
  });
}

suite('on the embedded database (npm start defaults)', async () => ({
  env: {},
  cleanup: async () => undefined,
}));

suite('on PostgreSQL', async () => {
  const db = await createTestDatabase();
  return { env: { DATABASE_URL: db.url, DATABASE_POOL_SIZE: '5' }, cleanup: () => db.drop() };
});

describe('configuration errors', () => {
  it('a bad setting stops the start and names the setting', async () => {
    for (const [env, setting] of [
      [{ PORT: 'eighty' }, 'PORT'],
      [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
      [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
      [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ] as const) {
      const { code, output } = await runProcess(env);
      expect(code).toBe(1);
      expect(output).toContain(setting);
      expect(output).not.toMatch(/\n\s+at /);
    }
  });

  it('reports bad setting files all at once, naming each, before the database is opened', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'inference-api-config-'));
    try {
      const table = path.join(dataDir, 'models.yaml');
      // A local model without a GGUF file.
      await writeFile(
        table,
        [
          'models:',
          '  - id: mine',
          '    targets: [{ provider: local, model: no-such-model }]',
          '',
        ].join('\n'),
      );
      const missingKey = path.join(dataDir, 'absent.pem');

      const { code, output } = await runProcess({
        DATA_DIR: dataDir,
        JWT_PRIVATE_KEY_FILE: missingKey,
        MODELS_FILE: table,
      });

      expect(code).toBe(1);
      expect(output).toContain(`JWT_PRIVATE_KEY_FILE: cannot read file ${missingKey} (ENOENT)`);
      expect(output).toContain('MODELS_FILE: models[0].targets[0].path: is required');
      expect(output).not.toMatch(/\n\s+at /);
      // Nothing was opened, let alone migrated.
      expect(existsSync(path.join(dataDir, 'pglite'))).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
