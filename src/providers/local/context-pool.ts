/** A fixed set of resources handed out one at a time; callers wait in arrival order. */
export class ContextPool<T> {
  private readonly idle: T[];
  private readonly waiting: { resolve: (item: T) => void; reject: (reason: unknown) => void }[] =
    [];
  private closed = false;

  constructor(items: readonly T[]) {
    this.idle = [...items];
  }

  get stats(): { idle: number; waiting: number } {
    return { idle: this.idle.length, waiting: this.waiting.length };
  }

  /** Resolves with a resource; `signal` withdraws the request while it still waits. */
  acquire(signal: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(new Error('context pool is closed'));
    if (signal.aborted) return Promise.reject(signal.reason);
    const item = this.idle.pop();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (value: T) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject,
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index !== -1) this.waiting.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(item: T): void {
    const next = this.waiting.shift();
    if (next) next.resolve(item);
    else this.idle.push(item);
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('context pool is closed'));
  }
}
