import { open } from 'node:fs/promises';
import {
  InsufficientMemoryError,
  resolveChatWrapper,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
} from 'node-llama-cpp';
import { ContextPool } from './context-pool.js';

/** A GGUF file named in the routing table (or the bundled default model). */
export interface LocalModelSpec {
  /** The name targets use (`model:`); also the id in logs and metrics. */
  name: string;
  path: string;
  /** Tokens per generation (prompt plus completion); default: the model's own, at most 4096. */
  contextSize?: number;
  /** CPU threads per generation. */
  threads: number;
  /** Generations at once; each holds one context. */
  contexts: number;
  /** Some route embeds with it: one more context, made for embeddings, is loaded. */
  embeddings?: boolean;
}

const DEFAULT_CONTEXT_CAP = 4096;

/** Why a model could not be served, worded for the operator reading the start-up error. */
export class LocalModelLoadError extends Error {
  constructor(spec: LocalModelSpec, reason: string, options?: ErrorOptions) {
    super(`local model "${spec.name}" (${spec.path}): ${reason}`, options);
    this.name = 'LocalModelLoadError';
  }
}

/** A loaded GGUF and its pool of contexts. */
export class LocalModel {
  private constructor(
    readonly spec: LocalModelSpec,
    readonly model: LlamaModel,
    private readonly contexts: LlamaContext[],
    readonly pool: ContextPool<LlamaContextSequence>,
    /** From the GGUF's chat template; null: chat is rendered as plain text (render-prompt.ts). */
    readonly chatWrapper: ChatWrapper | null,
    /** Prompt plus reply, as configured (llama.cpp rounds its own allocation up to 256). */
    readonly contextSize: number,
    /** Present when the spec asks for embeddings; llama.cpp serialises its use. */
    readonly embeddingContext: LlamaEmbeddingContext | null,
  ) {}

  /** Token ids from 0 up to this are the model's; any other would read outside its tables. */
  get vocabularySize(): number {
    const tokens = this.model.fileInfo.metadata.tokenizer?.ggml?.tokens;
    return Array.isArray(tokens) ? tokens.length : 0;
  }

  static async load(llama: Llama, spec: LocalModelSpec): Promise<LocalModel> {
    await checkHeader(spec);
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: spec.path, useMlock: false });
    } catch (error) {
      throw new LocalModelLoadError(spec, describeLoadFailure(error), { cause: error });
    }
    const contextSize = spec.contextSize ?? Math.min(model.trainContextSize, DEFAULT_CONTEXT_CAP);
    const contexts: LlamaContext[] = [];
    let embeddingContext: LlamaEmbeddingContext | null = null;
    try {
      for (let i = 0; i < spec.contexts; i += 1) {
        contexts.push(
          await model.createContext({ contextSize, sequences: 1, threads: spec.threads }),
        );
      }
      // Made now, not on the first request: a model that cannot embed fails the start, not a call.
      if (spec.embeddings === true) {
        embeddingContext = await model.createEmbeddingContext({
          contextSize,
          threads: spec.threads,
        });
      }
    } catch (error) {
      await embeddingContext?.dispose();
      await Promise.all(contexts.map((context) => context.dispose()));
      await model.dispose();
      throw new LocalModelLoadError(spec, describeLoadFailure(error), { cause: error });
    }
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    const chatWrapper =
      typeof template === 'string' && template !== '' ? resolveChatWrapper(model) : null;
    const pool = new ContextPool(contexts.map((context) => context.getSequence()));
    const usable = Math.min(contextSize, ...contexts.map((context) => context.contextSize));
    return new LocalModel(spec, model, contexts, pool, chatWrapper, usable, embeddingContext);
  }

  async dispose(): Promise<void> {
    this.pool.close();
    await this.embeddingContext?.dispose();
    await Promise.all(this.contexts.map((context) => context.dispose()));
    await this.model.dispose();
  }
}

const MAX_ENTRIES = 1_000_000;

/**
 * Refuses what is plainly not a GGUF before llama.cpp sees it: node-llama-cpp's metadata reader
 * spins on some malformed headers instead of failing.
 */
async function checkHeader(spec: LocalModelSpec): Promise<void> {
  let header: Buffer;
  let size: number;
  try {
    const file = await open(spec.path, 'r');
    try {
      size = (await file.stat()).size;
      header = Buffer.alloc(24);
      await file.read(header, 0, 24, 0);
    } finally {
      await file.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new LocalModelLoadError(spec, `cannot read the file (${code})`, { cause: error });
  }
  const version = header.readUInt32LE(4);
  const tensors = header.readBigUInt64LE(8);
  const entries = header.readBigUInt64LE(16);
  const problem =
    size < 24 || header.toString('latin1', 0, 4) !== 'GGUF'
      ? 'not a GGUF file'
      : version !== 2 && version !== 3
        ? `unsupported GGUF version ${version}`
        : tensors > MAX_ENTRIES || entries > MAX_ENTRIES
          ? 'corrupt GGUF header'
          : null;
  if (problem) throw new LocalModelLoadError(spec, `not a loadable GGUF model (${problem})`);
}

function describeLoadFailure(error: unknown): string {
  if (error instanceof InsufficientMemoryError) {
    return 'not enough memory for the model and its contexts (lower context_size or the number of contexts, or use a smaller quantisation)';
  }
  const message = error instanceof Error ? error.message : String(error);
  return `not a loadable GGUF model (${message})`;
}
