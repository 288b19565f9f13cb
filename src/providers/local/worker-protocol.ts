import type { FinishReason, TokenUsage } from '../../domain/ports.js';
import type { GenerationParams } from './generation.js';

/**
 * Messages between the pool (main thread) and a model worker. A worker runs one job at a time;
 * every job message carries the job id so that late messages of an ended job are recognizable.
 *
 * Flow control: a job starts with `window` credits; each `text` message spends one and `credit`
 * returns them as the consumer takes text. A worker with no credit waits, so it is never more
 * than `window` pieces ahead of the consumer.
 */
export type ToWorker =
  | { type: 'start'; id: number; params: GenerationParams; window: number }
  | { type: 'credit'; id: number; amount: number }
  | { type: 'cancel'; id: number };

export type FromWorker =
  /** Sent once, after the corpus has been counted. */
  | { type: 'ready' }
  | { type: 'text'; id: number; text: string }
  | { type: 'done'; id: number; finishReason: FinishReason; usage: TokenUsage }
  /** The job stopped early on request; the worker is free again. */
  | { type: 'cancelled'; id: number }
  /** The job threw; the worker is still usable. */
  | { type: 'failed'; id: number; message: string };
