import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/domain/logger.js';
import { RecurringJob } from '../../../src/domain/recurring-job.js';

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const ignore = () => undefined;
  return {
    errors,
    debug: ignore,
    info: ignore,
    warn: ignore,
    error: (_obj: object, msg?: string) => void errors.push(msg ?? ''),
  };
}

const OPTIONS = { initialDelayMs: 1_000, intervalMs: 5_000, failureMessage: 'job failed' };

describe('RecurringJob', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs after the initial delay, then once per interval after each run ends', async () => {
    let runs = 0;
    const job = new RecurringJob(async () => void (runs += 1), recordingLogger(), OPTIONS);
    job.start();
    job.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(2);
    await job.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toBe(2);
  });

  it('logs a failed run and keeps its schedule', async () => {
    let runs = 0;
    const logger = recordingLogger();
    const job = new RecurringJob(
      async () => {
        runs += 1;
        throw new Error('database away');
      },
      logger,
      OPTIONS,
    );
    job.start();
    await vi.advanceTimersByTimeAsync(6_000);
    expect(runs).toBe(2);
    expect(logger.errors).toEqual(['job failed', 'job failed']);
    await job.stop();
  });

  it('never overlaps runs, and stop aborts a running one and waits for it', async () => {
    let active = 0;
    let most = 0;
    let sawAbort = false;
    let finish: () => void = () => undefined;
    const job = new RecurringJob(
      (signal) =>
        new Promise<void>((resolve) => {
          active += 1;
          most = Math.max(most, active);
          signal.addEventListener('abort', () => (sawAbort = true), { once: true });
          finish = () => {
            active -= 1;
            resolve();
          };
        }),
      recordingLogger(),
      OPTIONS,
    );
    job.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(most).toBe(1);

    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(sawAbort).toBe(true);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(stopped).toBe(true);
    expect(job.signal.aborted).toBe(true);
  });
});
