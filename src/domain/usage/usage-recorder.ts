import { isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { NewUsageRecord, UsageRepository } from '../ports.js';
import { RowQueue } from './row-queue.js';

/** The one repository method the recorder writes through. */
export type UsageBatchWriter = Pick<UsageRepository, 'recordMany'>;

/** Where a finished request's usage goes; returns at once, never waits for the database. */
export interface UsageSink {
  record(record: NewUsageRecord): void;
}

export interface UsageRecorderOptions {
  /** Rows per INSERT; a full batch is written at once. Default 500. */
  maxBatch?: number;
  /** Whatever is buffered is written at least this often. Default 1000. */
  flushIntervalMs?: number;
  /**
   * Rows kept waiting while the database refuses writes; past it the oldest are dropped. The batch
   * being written comes on top. Default 100 000.
   */
  maxBuffered?: number;
  /** Pause after a failed write, doubled per failure in a row up to `retryMaxMs`. Default 1000. */
  retryBaseMs?: number;
  /** Default 30 000. */
  retryMaxMs?: number;
  /** Tries `close()` makes before giving the rows up. Default 3. */
  closeAttempts?: number;
  /** Milliseconds since the epoch; tests pass their own. */
  now?: () => number;
}

type TimedRecord = NewUsageRecord & { createdAt: Date };

const refused = (error: unknown) => isAppError(error) && error.code === 'VALIDATION_ERROR';

/**
 * Usage records batched off the request path: `record` only appends to memory; the rows are
 * written with one INSERT per `maxBatch` when a batch is full, every `flushIntervalMs`, and on
 * `close()`. Batches are written one at a time, oldest first.
 *
 * A failed write keeps its rows in front of the buffer; timed and size-triggered writes pause with
 * exponential backoff, `flush()` and `close()` try at once. Sending a batch again is safe, since
 * the repository skips completion ids it already has (the write may have committed before the
 * connection broke). A batch the database refuses for its content is written row by row, so one
 * bad row is dropped (logged with its request id) instead of blocking every later one.
 */
export class UsageRecorder implements UsageSink {
  readonly #writer: UsageBatchWriter;
  readonly #logger: Logger;
  readonly #maxBatch: number;
  readonly #flushIntervalMs: number;
  readonly #maxBuffered: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #closeAttempts: number;
  readonly #now: () => number;
  readonly #buffer = new RowQueue<TimedRecord>();
  readonly #timer: ReturnType<typeof setInterval>;
  /** Rows of the batch being written, put back in front if the write fails. */
  #writing = 0;
  /** Writes run one after another on this chain, so batches keep their order. */
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #failures = 0;
  #retryAt = 0;
  #droppedUnreported = 0;
  #droppedReportedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(writer: UsageBatchWriter, logger: Logger, options: UsageRecorderOptions = {}) {
    this.#writer = writer;
    this.#logger = logger;
    this.#maxBatch = positive('maxBatch', options.maxBatch ?? 500);
    this.#flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs ?? 1000);
    this.#maxBuffered = positive('maxBuffered', options.maxBuffered ?? 100_000);
    this.#retryBaseMs = positive('retryBaseMs', options.retryBaseMs ?? 1000);
    this.#retryMaxMs = positive('retryMaxMs', options.retryMaxMs ?? 30_000);
    this.#closeAttempts = positive('closeAttempts', options.closeAttempts ?? 3);
    this.#now = options.now ?? Date.now;
    if (this.#maxBuffered < this.#maxBatch) {
      throw new RangeError('maxBuffered must be at least maxBatch');
    }
    // unref: a pending flush must not keep the process alive; close() writes what is left.
    this.#timer = setInterval(() => this.#tick(), this.#flushIntervalMs);
    this.#timer.unref();
  }

  /** Rows waiting to be written, the batch being written included. */
  get buffered(): number {
    return this.#buffer.length + this.#writing;
  }

  record(record: NewUsageRecord): void {
    this.#buffer.push({ ...record, createdAt: new Date(this.#now()) });
    this.#enforceBound();
    if (this.#closed) {
      // Nothing would write it later: a straggler after close() is tried right away.
      this.#enqueue(true).catch(() => undefined);
    } else if (this.#buffer.length >= this.#maxBatch) {
      this.#start(false);
    }
  }

  /**
   * Writes everything recorded before the call, after any write already under way. Rejects when a
   * write fails; its rows stay buffered for the next attempt.
   */
  flush(): Promise<void> {
    return this.#enqueue(true);
  }

  /** Stops the timer and writes everything, retrying a little; never rejects, logs what is lost. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearInterval(this.#timer);
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.flush();
        this.#reportDrops();
        return;
      } catch (error) {
        if (attempt >= this.#closeAttempts) {
          this.#reportDrops();
          this.#logger.error(
            { err: error, lost: this.buffered },
            'usage records could not be written before shutdown and are lost',
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, this.#backoff(attempt)));
      }
    }
  }

  #tick(): void {
    this.#reportDrops();
    if (this.#buffer.length > 0) this.#start(true);
  }

  /** A write the recorder starts by itself: not while one is queued, nor during backoff. */
  #start(all: boolean): void {
    if (this.#queued > 0 || this.#now() < this.#retryAt) return;
    this.#enqueue(all).catch(() => undefined); // logged where it failed
  }

  #enqueue(all: boolean): Promise<void> {
    this.#queued += 1;
    const run = this.#tail.then(() => this.#drain(all));
    const settled = run.finally(() => {
      this.#queued -= 1;
    });
    this.#tail = settled.catch(() => undefined);
    return settled;
  }

  /**
   * `all`: every row buffered now; otherwise only the full batches. Bounded by what is there at the
   * start, so that under steady load a write ends and a `flush()` queued behind it gets its turn.
   */
  async #drain(all: boolean): Promise<void> {
    const rows = this.#buffer.length;
    let batches = all ? Math.ceil(rows / this.#maxBatch) : Math.floor(rows / this.#maxBatch);
    for (; batches > 0 && this.#buffer.length > 0; batches -= 1) {
      const batch = this.#buffer.take(this.#maxBatch);
      this.#writing = batch.length;
      try {
        await this.#write(batch);
        this.#failures = 0;
        this.#retryAt = 0;
      } catch (error) {
        this.#buffer.putBack(batch);
        this.#failures += 1;
        const delay = this.#backoff(this.#failures);
        this.#retryAt = this.#now() + delay;
        this.#logger.error(
          {
            err: error,
            buffered: this.#buffer.length,
            failures: this.#failures,
            retry_in_ms: delay,
          },
          'writing usage records failed; keeping them to retry',
        );
        throw error;
      } finally {
        this.#writing = 0;
        this.#enforceBound();
      }
    }
  }

  async #write(batch: TimedRecord[]): Promise<void> {
    try {
      await this.#writer.recordMany(batch);
    } catch (error) {
      if (!refused(error) || batch.length === 1) throw error;
      // Rows written before a later one fails for another reason are skipped when the whole
      // batch is sent again, so a partial pass leaves nothing twice.
      for (const record of batch) {
        try {
          await this.#writer.recordMany([record]);
        } catch (rowError) {
          if (!refused(rowError)) throw rowError;
          this.#logger.error(
            { err: rowError, request_id: record.requestId, completion_id: record.completionId },
            'the database refused a usage record; dropped it',
          );
        }
      }
    }
  }

  #backoff(failures: number): number {
    return Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(failures - 1, 30));
  }

  // The batch in flight is left out: were it counted, newer rows would be dropped while it is
  // written and the older ones kept when it fails and comes back.
  #enforceBound(): void {
    const excess = this.#buffer.length - this.#maxBuffered;
    if (excess <= 0) return;
    this.#droppedUnreported += this.#buffer.drop(excess);
    // One error per interval while the outage lasts, not one per request.
    if (this.#now() - this.#droppedReportedAt >= this.#flushIntervalMs) this.#reportDrops();
  }

  #reportDrops(): void {
    if (this.#droppedUnreported === 0) return;
    this.#logger.error(
      { dropped: this.#droppedUnreported, max_buffered: this.#maxBuffered },
      'usage buffer full; dropped the oldest usage records',
    );
    this.#droppedUnreported = 0;
    this.#droppedReportedAt = this.#now();
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
