import { parentPort } from 'node:worker_threads';
import { countCorpus } from './corpus-counts.js';
import { Generation } from './generation.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

// Yielding to the event loop now and then lets `cancel` and `credit` messages in even while the
// consumer keeps up and credit never runs out.
const TOKENS_BETWEEN_YIELDS = 16;

if (parentPort === null) throw new Error('worker.ts must run as a worker thread');
const port = parentPort;

// Counted once per worker; every job shares it read-only.
const corpus = countCorpus();

function send(message: FromWorker): void {
  port.postMessage(message);
}

class Job {
  private credit: number;
  private cancelled = false;
  private wake: (() => void) | null = null;

  constructor(
    readonly id: number,
    private readonly generation: Generation,
    window: number,
  ) {
    this.credit = window;
  }

  addCredit(amount: number): void {
    this.credit += amount;
    this.wake?.();
  }

  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  async run(): Promise<void> {
    let sinceYield = 0;
    for (;;) {
      if (this.credit <= 0) {
        while (this.credit <= 0 && !this.cancelled) await this.waitForWake();
      } else if (sinceYield >= TOKENS_BETWEEN_YIELDS) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (this.cancelled) {
        send({ type: 'cancelled', id: this.id });
        return;
      }
      const step = this.generation.step();
      sinceYield++;
      if (step.text !== '') {
        this.credit--;
        send({ type: 'text', id: this.id, text: step.text });
      }
      if (step.done) {
        send({ type: 'done', id: this.id, ...step.done });
        return;
      }
    }
  }

  private waitForWake(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
    });
  }
}

let current: Job | null = null;

async function start(message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  try {
    current = new Job(message.id, new Generation(corpus, message.params), message.window);
    await current.run();
  } catch (error) {
    send({
      type: 'failed',
      id: message.id,
      message: error instanceof Error ? error.message : String(error),
    });
  } finally {
    current = null;
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'start':
      void start(message);
      break;
    case 'credit':
      if (current?.id === message.id) current.addCredit(message.amount);
      break;
    case 'cancel':
      if (current?.id === message.id) current.cancel();
      break;
  }
});

send({ type: 'ready' });
