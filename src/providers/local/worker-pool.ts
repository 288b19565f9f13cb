import type { Worker } from 'node:worker_threads';
import { AppError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import type { GenerationParams } from './generation.js';
import { PoolJob } from './pool-job.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export interface WorkerPoolOptions {
  size: number;
  logger: Logger;
  spawn: () => Worker;
  /** How many text pieces a worker may produce beyond what the consumer has taken. */
  window?: number;
}

const DEFAULT_WINDOW = 16;
const MAX_RESPAWN_DELAY_MS = 30_000;

interface Slot {
  index: number;
  worker: Worker | null;
  /** The worker finished its start-up; a worker that dies before this is respawned with backoff. */
  ready: boolean;
  startupFailures: number;
  respawnTimer: NodeJS.Timeout | null;
  job: PoolJob | null;
  jobId: number;
}

/**
 * A fixed set of model workers, each running one job at a time; jobs wait in FIFO order for a free
 * worker. A worker that dies fails its job and is replaced; close() ends everything.
 */
export class WorkerPool {
  private readonly slots: Slot[];
  private readonly queue: PoolJob[] = [];
  private readonly window: number;
  private nextJobId = 0;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    this.window = options.window ?? DEFAULT_WINDOW;
    this.slots = Array.from({ length: options.size }, (_, index) => ({
      index,
      worker: null,
      ready: false,
      startupFailures: 0,
      respawnTimer: null,
      job: null,
      jobId: 0,
    }));
    for (const slot of this.slots) this.spawnInto(slot);
  }

  submit(params: GenerationParams): PoolJob {
    const job = new PoolJob(params, (cancelled) => this.dequeue(cancelled));
    if (this.closed) {
      job.fail(shuttingDown());
      return job;
    }
    this.queue.push(job);
    this.dispatch();
    return job;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = shuttingDown();
    for (const job of this.queue.splice(0)) job.fail(error);
    const terminations: Promise<number>[] = [];
    for (const slot of this.slots) {
      if (slot.respawnTimer) clearTimeout(slot.respawnTimer);
      slot.job?.fail(error);
      slot.job = null;
      if (slot.worker) terminations.push(slot.worker.terminate());
      slot.worker = null;
    }
    await Promise.all(terminations);
  }

  private dequeue(job: PoolJob): void {
    const index = this.queue.indexOf(job);
    if (index !== -1) this.queue.splice(index, 1);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.worker === null || slot.job !== null) continue;
      this.start(slot, slot.worker, this.queue.shift() as PoolJob);
    }
  }

  private start(slot: Slot, worker: Worker, job: PoolJob): void {
    const id = ++this.nextJobId;
    slot.job = job;
    slot.jobId = id;
    const post = (message: ToWorker): void => {
      // Late credit or cancel for a job the worker has already finished is simply dropped.
      if (slot.worker === worker && slot.jobId === id) worker.postMessage(message);
    };
    job.attach({
      credit: (amount) => post({ type: 'credit', id, amount }),
      cancel: () => post({ type: 'cancel', id }),
    });
    // A busy worker keeps the process alive; an idle one must not.
    worker.ref();
    post({ type: 'start', id, params: job.params, window: this.window });
  }

  private release(slot: Slot): void {
    slot.job = null;
    slot.worker?.unref();
    this.dispatch();
  }

  private spawnInto(slot: Slot): void {
    slot.respawnTimer = null;
    if (this.closed) return;
    let worker: Worker;
    try {
      worker = this.options.spawn();
    } catch (error) {
      this.options.logger.error({ err: error, worker: slot.index }, 'cannot start model worker');
      this.scheduleRespawn(slot);
      return;
    }
    slot.worker = worker;
    slot.ready = false;
    worker.unref();
    worker.on('message', (message: FromWorker) => this.onMessage(slot, worker, message));
    worker.on('error', (error) => {
      this.options.logger.error({ err: error, worker: slot.index }, 'model worker crashed');
    });
    worker.on('exit', (code) => this.onExit(slot, worker, code));
    this.dispatch();
  }

  private onMessage(slot: Slot, worker: Worker, message: FromWorker): void {
    if (slot.worker !== worker) return;
    if (message.type === 'ready') {
      slot.ready = true;
      slot.startupFailures = 0;
      return;
    }
    const job = slot.job;
    if (job === null || message.id !== slot.jobId) return;
    switch (message.type) {
      case 'text':
        job.deliver({ type: 'text', text: message.text });
        break;
      case 'done':
        job.deliver({
          type: 'done',
          finishReason: message.finishReason,
          usage: message.usage,
        });
        this.release(slot);
        break;
      case 'cancelled':
        this.release(slot);
        break;
      case 'failed':
        this.options.logger.error(
          { worker: slot.index, error: message.message },
          'local model generation failed',
        );
        job.fail(new AppError('INTERNAL_ERROR', { message: 'The local model failed' }));
        this.release(slot);
        break;
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker || this.closed) return;
    slot.worker = null;
    const job = slot.job;
    slot.job = null;
    this.options.logger.error({ worker: slot.index, exitCode: code }, 'model worker exited');
    job?.fail(
      new AppError('INTERNAL_ERROR', { message: 'The local model worker stopped unexpectedly' }),
    );
    if (slot.ready) {
      slot.ready = false;
      this.spawnInto(slot);
    } else {
      this.scheduleRespawn(slot);
    }
  }

  // A worker that cannot even start would otherwise be respawned in a tight loop.
  private scheduleRespawn(slot: Slot): void {
    slot.startupFailures++;
    const delay = Math.min(MAX_RESPAWN_DELAY_MS, 250 * 2 ** (slot.startupFailures - 1));
    slot.respawnTimer = setTimeout(() => this.spawnInto(slot), delay);
    slot.respawnTimer.unref();
  }
}

function shuttingDown(): AppError {
  return new AppError('OVERLOADED', { message: 'The local model is shutting down' });
}
