import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { writeEndlessModel } from '../../support/endless-model.js';

let t: TestApp;
let base: URL;
let dir: string;
beforeAll(async () => {
  // Generations must outlast the flood's admission: the bundled model ends its entries within a
  // few milliseconds, so the streams run on a copy that cannot end its text.
  dir = await mkdtemp(path.join(tmpdir(), 'inference-api-shedding-'));
  const endless = path.join(dir, 'endless.gguf');
  await writeEndlessModel(path.resolve('models/tiny-wordnet.gguf'), endless);
  const modelsFile = path.join(dir, 'models.yaml');
  await writeFile(
    modelsFile,
    [
      'models:',
      '  - id: endless',
      '    targets:',
      '      - provider: local',
      '        model: endless',
      `        path: ${endless}`,
      '        context_size: 1024',
    ].join('\n'),
  );
  t = await startTestApp({
    MODELS_FILE: modelsFile,
    MAX_CONCURRENT_GENERATIONS: '2',
    MAX_QUEUED_GENERATIONS: '2',
    GENERATION_QUEUE_TIMEOUT_MS: '60000',
    RATE_LIMIT_RPM: '10000',
    RATE_LIMIT_TPM: '100000000',
  });
  base = new URL(await t.app.http.listen({ host: '127.0.0.1', port: 0 }));
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

async function longStream(): Promise<{
  status: number;
  retryAfter: string | null;
  body: string;
  ms: number;
}> {
  const started = performance.now();
  const res = await fetch(new URL('/v1/completions', base), {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'endless',
      prompt: 'A long tale of rivers',
      max_tokens: 1000,
      stream: true,
    }),
  });
  const body = await res.text();
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body,
    ms: performance.now() - started,
  };
}

describe('load shedding', () => {
  it('refuses work beyond the generation cap at once, keeps /healthz answering, and finishes what it accepted', async () => {
    const flood = Array.from({ length: 12 }, () => longStream());
    // While the flood is in progress the probes still answer.
    const health = await fetch(new URL('/healthz', base));
    const ready = await fetch(new URL('/readyz', base));
    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
    const results = await Promise.all(flood);

    const accepted = results.filter((r) => r.status === 200);
    const shed = results.filter((r) => r.status === 503);
    // Two run and two wait; the other eight are refused.
    expect(accepted).toHaveLength(4);
    expect(shed).toHaveLength(8);
    for (const refusal of shed) {
      expect(refusal.retryAfter).toBe('1');
      expect(JSON.parse(refusal.body).error.code).toBe('OVERLOADED');
    }
    for (const ok of accepted) expect(ok.body.trim().endsWith('data: [DONE]')).toBe(true);
    // A refusal is answered without waiting for any generation to finish.
    const slowestRefusal = Math.max(...shed.map((r) => r.ms));
    const fastestCompletion = Math.min(...accepted.map((r) => r.ms));
    expect(slowestRefusal).toBeLessThan(fastestCompletion);
  });
});
