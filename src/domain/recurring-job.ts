import type { Logger } from './logger.js';

export interface RecurringJobOptions {
  /** Before the first run, so it does not compete with start-up. */
  initialDelayMs: number;
  /** Between the end of one run and the start of the next. */
  intervalMs: number;
  /** Logged with the error when a run fails; the next run is scheduled all the same. */
  failureMessage: string;
}

/**
 * Background housekeeping (pruning, purging) on a timer. The next run is scheduled when one ends,
 * so a long run never overlaps the next; timers are unref'd so they never keep a process alive;
 * `stop()` aborts the signal a running job receives and waits for it to end.
 */
export class RecurringJob {
  readonly #job: (signal: AbortSignal) => Promise<unknown>;
  readonly #logger: Logger;
  readonly #options: RecurringJobOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #stopped = false;

  constructor(
    job: (signal: AbortSignal) => Promise<unknown>,
    logger: Logger,
    options: RecurringJobOptions,
  ) {
    this.#job = job;
    this.#logger = logger;
    this.#options = options;
  }

  /** The signal the job runs with; aborted by stop(). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  start(): void {
    if (this.#stopped || this.#timer !== undefined || this.#running) return;
    this.#schedule(this.#options.initialDelayMs);
  }

  /** Cancels the next run and waits for a running one, whose signal is aborted. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    await this.#running;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#job(this.#abort.signal)
        .then(
          () => undefined,
          (error: unknown) => this.#logger.error({ err: error }, this.#options.failureMessage),
        )
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#schedule(this.#options.intervalMs);
        });
    }, delayMs);
    this.#timer.unref();
  }
}
