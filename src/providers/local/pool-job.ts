import type { GenerationEvent } from '../../domain/ports.js';
import type { GenerationParams } from './generation.js';

/** How a running job talks back to its worker; attached by the pool when the job starts. */
export interface JobControl {
  credit(amount: number): void;
  cancel(): void;
}

// Credit goes back in small batches to save messages, but always as soon as the consumer has
// taken everything, so a worker can never wait on credit that is merely being batched.
const CREDIT_BATCH = 4;

/**
 * One generation as the main thread sees it: events arrive from the pool, the consumer takes them
 * with `next`, and taking text returns flow-control credit to the worker.
 */
export class PoolJob {
  private readonly events: GenerationEvent[] = [];
  private waiter: {
    resolve: (event: GenerationEvent) => void;
    reject: (error: unknown) => void;
  } | null = null;
  private failure: { error: unknown } | null = null;
  private control: JobControl | null = null;
  private owedCredit = 0;
  /** No more events will come: done arrived, it failed, or the consumer gave up. */
  private ended = false;

  constructor(
    readonly params: GenerationParams,
    private readonly onCancelWhileQueued: (job: PoolJob) => void,
  ) {}

  /** Events received but not yet taken; flow control keeps this within the window. */
  get buffered(): number {
    return this.events.length;
  }

  // --- consumer side ---

  next(): Promise<GenerationEvent> {
    const event = this.events.shift();
    if (event !== undefined) {
      if (event.type === 'text') this.returnCredit();
      return Promise.resolve(event);
    }
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.reject(new Error('PoolJob.next called after the job ended'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * Stops the job: dequeued if still waiting for a worker, told to stop if running. Undelivered
   * events are dropped and `next` rejects with `reason` from now on.
   */
  cancel(reason: unknown = new Error('Generation cancelled')): void {
    if (this.ended) return;
    this.ended = true;
    this.events.length = 0;
    this.rejectWaiter(reason);
    if (this.control) this.control.cancel();
    else this.onCancelWhileQueued(this);
  }

  // --- pool side ---

  attach(control: JobControl): void {
    this.control = control;
  }

  deliver(event: GenerationEvent): void {
    if (this.ended) return;
    if (event.type === 'done') this.ended = true;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = null;
      if (event.type === 'text') this.returnCredit();
      resolve(event);
    } else {
      this.events.push(event);
    }
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.rejectWaiter(error);
  }

  private rejectWaiter(error: unknown): void {
    this.failure = { error };
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = null;
      reject(error);
    }
  }

  private returnCredit(): void {
    this.owedCredit++;
    if (this.owedCredit >= CREDIT_BATCH || this.events.length === 0) {
      const amount = this.owedCredit;
      this.owedCredit = 0;
      if (!this.ended) this.control?.credit(amount);
    }
  }
}
