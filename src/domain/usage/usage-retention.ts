import type { Logger } from '../logger.js';
import { RecurringJob } from '../recurring-job.js';
import type { UsageRepository } from '../ports.js';

/** The one repository method retention needs. */
export type UsagePruner = Pick<UsageRepository, 'pruneUsage'>;

export interface UsageRetentionOptions {
  /** USAGE_RETENTION_DAYS: raw records older than this many days are deleted. */
  olderThanDays: number;
  /** Rows deleted per transaction. Default 5000. */
  batchSize?: number;
  /** Between the end of one run and the start of the next. Default one hour. */
  intervalMs?: number;
  /** Before the first run, so a large first backlog does not compete with start-up. Default 1 min. */
  initialDelayMs?: number;
}

/**
 * Retention of raw usage records: deletes those older than `olderThanDays` in bounded batches, a
 * minute after `start()` and then hourly. The daily totals are kept, so GET /v1/usage answers the
 * same for pruned days; only the per-request rows go. Every instance may run it: concurrent runs
 * share the rows instead of waiting on each other (see the repository). Runs never overlap
 * (RecurringJob).
 */
export class UsageRetention {
  readonly #pruner: UsagePruner;
  readonly #logger: Logger;
  readonly #olderThanDays: number;
  readonly #batchSize: number;
  readonly #job: RecurringJob;

  constructor(pruner: UsagePruner, logger: Logger, options: UsageRetentionOptions) {
    this.#pruner = pruner;
    this.#logger = logger;
    this.#olderThanDays = options.olderThanDays;
    this.#batchSize = options.batchSize ?? 5000;
    if (!Number.isInteger(this.#olderThanDays) || this.#olderThanDays < 1) {
      throw new RangeError(`olderThanDays must be a positive integer, got ${this.#olderThanDays}`);
    }
    this.#job = new RecurringJob(() => this.runOnce(), logger, {
      initialDelayMs: options.initialDelayMs ?? 60_000,
      intervalMs: options.intervalMs ?? 3_600_000,
      failureMessage: 'pruning usage records failed; next run as usual',
    });
  }

  start(): void {
    this.#job.start();
  }

  /** Deletes what is due now; resolves with how many rows went. */
  async runOnce(): Promise<{ deleted: number }> {
    const startedAt = Date.now();
    const result = await this.#pruner.pruneUsage({
      olderThanDays: this.#olderThanDays,
      batchSize: this.#batchSize,
      signal: this.#job.signal,
    });
    if (result.deleted > 0) {
      this.#logger.info(
        {
          deleted: result.deleted,
          older_than_days: this.#olderThanDays,
          duration_ms: Date.now() - startedAt,
        },
        'pruned raw usage records',
      );
    }
    return result;
  }

  /** Cancels the next run and ends a running one after its current batch. */
  async stop(): Promise<void> {
    await this.#job.stop();
  }
}
