import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/domain/errors.js';
import { silentLogger } from '../../../../src/domain/logger.js';
import type { GenerationParams } from '../../../../src/providers/local/generation.js';
import type { PoolJob } from '../../../../src/providers/local/pool-job.js';
import { spawnModelWorker } from '../../../../src/providers/local/spawn-worker.js';
import { WorkerPool } from '../../../../src/providers/local/worker-pool.js';

function params(prompt: string, maxTokens = 16): GenerationParams {
  return { kind: 'text', prompt, maxTokens, temperature: 0, topP: 1, stop: [] };
}

async function finish(job: PoolJob): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const event = await job.next();
    if (event.type === 'done') return texts;
    texts.push(event.text);
  }
}

/**
 * A stand-in worker that speaks the pool protocol: prompt "crash" sends some text and then kills
 * the thread, "fail" reports a failed job, anything else finishes at once.
 */
const SCRIPTED_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.postMessage({ type: 'ready' });
parentPort.on('message', (message) => {
  if (message.type !== 'start') return;
  const { id, params } = message;
  if (params.prompt === 'crash') {
    parentPort.postMessage({ type: 'text', id, text: 'partial' });
    setTimeout(() => process.exit(3), 20);
  } else if (params.prompt === 'fail') {
    parentPort.postMessage({ type: 'failed', id, message: 'boom' });
  } else {
    parentPort.postMessage({ type: 'text', id, text: params.prompt });
    parentPort.postMessage({
      type: 'done', id, finishReason: 'stop', usage: { promptTokens: 1, completionTokens: 1 },
    });
  }
});
`;

describe('WorkerPool', () => {
  let pool: WorkerPool | undefined;

  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('keeps a real model worker within the window while the consumer does not pull', async () => {
    pool = new WorkerPool({ size: 1, logger: silentLogger, spawn: spawnModelWorker, window: 8 });
    const job = pool.submit(params('The weather is', 10_000));
    await job.next();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(job.buffered).toBeGreaterThan(0);
    expect(job.buffered).toBeLessThanOrEqual(8);

    // Taking the buffered pieces hands credit back and the worker carries on.
    const taken = job.buffered;
    for (let i = 0; i < taken; i++) await job.next();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(job.buffered).toBeGreaterThan(0);
    job.cancel();
  });

  it('fails the job of a crashed worker with INTERNAL_ERROR and replaces the worker', async () => {
    let spawned = 0;
    pool = new WorkerPool({
      size: 1,
      logger: silentLogger,
      spawn: () => {
        spawned++;
        return new Worker(SCRIPTED_WORKER, { eval: true });
      },
    });
    const crashing = pool.submit(params('crash'));
    const queued = pool.submit(params('after'));

    expect(await crashing.next()).toEqual({ type: 'text', text: 'partial' });
    const failure = await crashing.next().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'INTERNAL_ERROR' });

    expect(await finish(queued)).toEqual(['after']);
    expect(spawned).toBe(2);
  });

  it('fails a job the worker reports as failed and keeps the worker', async () => {
    let spawned = 0;
    pool = new WorkerPool({
      size: 1,
      logger: silentLogger,
      spawn: () => {
        spawned++;
        return new Worker(SCRIPTED_WORKER, { eval: true });
      },
    });
    await expect(pool.submit(params('fail')).next()).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
    });
    expect(await finish(pool.submit(params('fine')))).toEqual(['fine']);
    expect(spawned).toBe(1);
  });
});
