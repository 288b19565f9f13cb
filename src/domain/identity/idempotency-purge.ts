import type { Logger } from '../logger.js';
import { RecurringJob } from '../recurring-job.js';
import type { IdempotencyStore } from './ports.js';

/** The one store method the purge needs. */
export type IdempotencyPurger = Pick<IdempotencyStore, 'purgeExpired'>;

export interface IdempotencyPurgeOptions {
  /** Rows deleted per statement. Default 5000. */
  batchSize?: number;
  /** Between the end of one run and the start of the next. Default one hour. */
  intervalMs?: number;
  /** Before the first run, so it does not compete with start-up. Default one minute. */
  initialDelayMs?: number;
}

/**
 * Deletes Idempotency-Key records past their expiry (responses older than 24 hours, claims whose
 * lease lapsed) a minute after `start()` and then hourly. An expired record already behaves as
 * absent, so this only bounds the table: keys used once would otherwise stay forever. Every
 * instance may run it; the store lets concurrent runs share the rows.
 */
export class IdempotencyPurge {
  readonly #purger: IdempotencyPurger;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #job: RecurringJob;

  constructor(purger: IdempotencyPurger, logger: Logger, options: IdempotencyPurgeOptions = {}) {
    this.#purger = purger;
    this.#logger = logger;
    this.#batchSize = options.batchSize ?? 5000;
    this.#job = new RecurringJob(() => this.runOnce(), logger, {
      initialDelayMs: options.initialDelayMs ?? 60_000,
      intervalMs: options.intervalMs ?? 3_600_000,
      failureMessage: 'purging idempotency records failed; next run as usual',
    });
  }

  start(): void {
    this.#job.start();
  }

  /** Deletes what has expired by now; resolves with how many rows went. */
  async runOnce(): Promise<{ deleted: number }> {
    const startedAt = Date.now();
    const result = await this.#purger.purgeExpired({
      batchSize: this.#batchSize,
      signal: this.#job.signal,
    });
    if (result.deleted > 0) {
      this.#logger.info(
        { deleted: result.deleted, duration_ms: Date.now() - startedAt },
        'purged expired idempotency records',
      );
    }
    return result;
  }

  /** Cancels the next run and ends a running one after its current batch. */
  async stop(): Promise<void> {
    await this.#job.stop();
  }
}
