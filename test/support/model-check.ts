/**
 * Checks that an exported GGUF behaves in llama.cpp exactly as the PyTorch model it came from,
 * against the JSON record tools/model/train.py writes next to it: the file's checksum, the
 * held-out token ids, the windowed held-out loss and the greedy continuations.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';

/** What train.py records about an export (the fields the check reads). */
export interface ModelRecord {
  model: string;
  sha256: string;
  config: { context: number; vocab_size: number };
  held_out: {
    file: string;
    tokens: number;
    token_sha256: string;
    predicted_tokens: number;
    loss: number;
  };
  continuations: { prompt: string; tokens: number[]; text: string }[];
}

/** Reads `<name>.json` from `dir`. */
export async function readModelRecord(dir: string, name = 'tiny-wordnet'): Promise<ModelRecord> {
  return JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as ModelRecord;
}

/** Hex sha256 of a file's bytes. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The entries of a held-out file as train.py wrote it: one per line, the file ending in `\n`. */
export function heldOutLines(text: string): string[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body === '' ? [] : body.split('\n');
}

/** The held-out token stream as in training: each line's ids followed by the EOS id. */
export function heldOutTokenIds(model: LlamaModel, lines: readonly string[]): Token[] {
  const eos = model.tokens.eos;
  if (eos == null) throw new Error('the model has no EOS token');
  const ids: Token[] = [];
  for (const line of lines) ids.push(...model.tokenize(line), eos);
  return ids;
}

/** Hex sha256 of token ids as little-endian int32, as numpy's `dtype="<i4"` lays them out. */
export function tokenIdsSha256(ids: readonly number[]): string {
  const bytes = Buffer.alloc(ids.length * 4);
  ids.forEach((id, i) => bytes.writeInt32LE(id, i * 4));
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Mean next-token cross-entropy over non-overlapping windows of `window` tokens, each evaluated
 * from an empty history; the first token of a window is not predicted and a final window shorter
 * than 2 is skipped (train.py's `windowed_loss`). The sequence's context must hold `window` tokens.
 */
export async function windowedLoss(
  sequence: LlamaContextSequence,
  ids: readonly Token[],
  window: number,
): Promise<{ loss: number; predicted: number }> {
  let total = 0;
  let predicted = 0;
  for (let start = 0; start < ids.length - 1; start += window) {
    const tokens = ids.slice(start, start + window);
    if (tokens.length < 2) break;
    await sequence.clearHistory();
    // Every position but the last needs the distribution of the token after it.
    const results = await sequence.controlledEvaluate(
      tokens.map((token, i) =>
        i < tokens.length - 1 ? [token, { generateNext: { probabilities: true } }] : token,
      ),
    );
    for (let i = 0; i < tokens.length - 1; i++) {
      const target = tokens[i + 1] as Token;
      const probability = results[i]?.next.probabilities?.get(target);
      if (probability === undefined) {
        throw new Error(`no probability for token ${target} at position ${start + i + 1}`);
      }
      total -= Math.log(probability);
      predicted++;
    }
  }
  return { loss: total / predicted, predicted };
}

/**
 * Greedy (temperature 0) continuation of `prompt` from an empty history, at most `maxTokens`
 * long. Unlike node-llama-cpp's default, an end-of-generation token is returned as the last
 * token, as train.py records it, so a run that stops and one that hits the cap are told apart.
 */
export async function greedyContinuation(
  sequence: LlamaContextSequence,
  prompt: readonly Token[],
  maxTokens: number,
): Promise<Token[]> {
  await sequence.clearHistory();
  const out: Token[] = [];
  if (maxTokens <= 0) return out;
  const generation = sequence.evaluate([...prompt], { temperature: 0, yieldEogToken: true });
  for await (const token of generation) {
    out.push(token);
    if (sequence.model.isEogToken(token) || out.length >= maxTokens) break;
  }
  return out;
}
