import { AppError } from '../errors.js';

/** Why the process should refuse new work right now, or null when it is healthy. */
export interface OverloadSignal {
  reason(): 'event_loop_lag' | 'memory' | null;
}

export interface GenerationGateOptions {
  /** Generations running at once on this instance. */
  maxConcurrent: number;
  /** Generations waiting for a slot; beyond this, refuse at once. */
  maxQueued: number;
  /** The longest a queued generation waits before it is refused. */
  queueTimeoutMs: number;
  overload: OverloadSignal;
  /** Suggested wait for a refused client. */
  retryAfterSeconds?: number;
  onShed?: (reason: 'capacity' | 'queue_timeout' | 'event_loop_lag' | 'memory') => void;
}

interface Waiter {
  grant: () => void;
  fail: (error: AppError) => void;
}

/**
 * Load shedding in front of generation: a fixed number of slots and a short FIFO queue. A request
 * beyond both, or arriving while the event loop lags or memory runs out, is refused at once with
 * 503 OVERLOADED, so the instance stays fast for the work it has accepted.
 */
export class GenerationGate {
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly options: GenerationGateOptions) {}

  stats(): { active: number; queued: number } {
    return { active: this.active, queued: this.queue.length };
  }

  private overloaded(message: string): AppError {
    return new AppError('OVERLOADED', {
      message,
      headers: { 'retry-after': String(this.options.retryAfterSeconds ?? 1) },
    });
  }

  /** Resolves with a release function (idempotent) once a slot is held. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    const reason = this.options.overload.reason();
    if (reason !== null) {
      this.options.onShed?.(reason);
      throw this.overloaded(
        reason === 'memory'
          ? 'Server is low on memory; retry later'
          : 'Server is saturated; retry later',
      );
    }
    if (this.active < this.options.maxConcurrent && this.queue.length === 0) {
      this.active += 1;
      return this.releaser();
    }
    if (this.queue.length >= this.options.maxQueued) {
      this.options.onShed?.('capacity');
      throw this.overloaded('Too many generations in progress; retry later');
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          cleanup();
          resolve();
        },
        fail: (error) => {
          cleanup();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.options.onShed?.('queue_timeout');
        this.remove(waiter, this.overloaded('Waited too long for a generation slot; retry later'));
      }, this.options.queueTimeoutMs);
      const onAbort = () =>
        this.remove(waiter, new AppError('OVERLOADED', { message: 'Client went away' }));
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
    return this.releaser();
  }

  private remove(waiter: Waiter, error: AppError): void {
    const index = this.queue.indexOf(waiter);
    if (index === -1) return;
    this.queue.splice(index, 1);
    waiter.fail(error);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // The slot passes straight to the next waiter, so `active` only drops when nobody waits.
      if (next) next.grant();
      else this.active -= 1;
    };
  }
}
