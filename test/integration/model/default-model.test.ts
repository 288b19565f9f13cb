/**
 * The committed demo model in models/ is the model train.py trained: its bytes match the record,
 * llama.cpp tokenizes the held-out text to the training ids, scores it with the same loss and
 * continues the recorded prompts with the same greedy tokens.
 *
 * MODEL_CHECK_DIR points the check at another export directory (for development only).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fileSha256,
  greedyContinuation,
  heldOutLines,
  heldOutTokenIds,
  readModelRecord,
  tokenIdsSha256,
  windowedLoss,
  type ModelRecord,
} from '../../support/model-check.js';

const DIR =
  process.env.MODEL_CHECK_DIR ?? fileURLToPath(new URL('../../../models/', import.meta.url));
/** train.py's end-of-sequence id, which ends every held-out entry. */
const EOS = 2;
/** llama.cpp's CPU kernels round differently from PyTorch; on the example run they agreed to 1e-5. */
const LOSS_TOLERANCE = 0.01;

describe('the default model export', () => {
  let record: ModelRecord;
  let llama: Llama | undefined;
  let model: LlamaModel | undefined;
  let context: LlamaContext | undefined;
  let sequence: LlamaContextSequence;
  let heldOut: Token[];

  beforeAll(async () => {
    record = await readModelRecord(DIR);
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.warn });
    model = await llama.loadModel({ modelPath: join(DIR, record.model) });
    context = await model.createContext({ contextSize: record.config.context, threads: 1 });
    sequence = context.getSequence();
    const text = await readFile(join(DIR, record.held_out.file), 'utf8');
    heldOut = heldOutTokenIds(model, heldOutLines(text));
  });

  afterAll(async () => {
    await context?.dispose();
    await model?.dispose();
    await llama?.dispose();
  });

  it('is the file the record describes', async () => {
    expect(await fileSha256(join(DIR, record.model))).toBe(record.sha256);
    expect(model?.trainContextSize).toBe(record.config.context);
    expect(model?.tokens.eos).toBe(EOS);
  });

  it('tokenizes the held-out text to the ids it was trained on', () => {
    expect(heldOut.length).toBe(record.held_out.tokens);
    expect(tokenIdsSha256(heldOut)).toBe(record.held_out.token_sha256);
  });

  it('scores the held-out text with the recorded loss', { timeout: 180_000 }, async () => {
    const { loss, predicted } = await windowedLoss(sequence, heldOut, record.config.context);
    expect(predicted).toBe(record.held_out.predicted_tokens);
    const message = `loss ${loss} against the recorded ${record.held_out.loss}`;
    expect(Math.abs(loss - record.held_out.loss), message).toBeLessThanOrEqual(LOSS_TOLERANCE);
  });

  it('continues every recorded prompt with the recorded greedy tokens', async () => {
    expect(record.continuations.length).toBeGreaterThan(0);
    for (const { prompt, tokens } of record.continuations) {
      const promptTokens = model!.tokenize(prompt);
      // A context shift would change the continuation, so the whole run must fit.
      expect(promptTokens.length + tokens.length).toBeLessThanOrEqual(record.config.context);
      // Generation runs to EOS or the recorded length, and returns the EOS it stopped at, so an
      // equal list means the same tokens and the same stop.
      const generated = await greedyContinuation(sequence, promptTokens, tokens.length);
      expect({ prompt, tokens: generated }).toEqual({ prompt, tokens });
    }
  });
});
