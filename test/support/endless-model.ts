import { readFile, writeFile } from 'node:fs/promises';

function patchOnce(bytes: Buffer, pattern: Buffer, what: string): number {
  const at = bytes.indexOf(pattern);
  if (at === -1 || bytes.indexOf(pattern, at + 1) !== -1) {
    throw new Error(`expected exactly one ${what} in the GGUF`);
  }
  return at;
}

/**
 * Copies the bundled model with its end of text disabled: `eos_token_id` points at <unk> (which a
 * byte-fallback model never writes) and the piece `</s>` is renamed so that llama.cpp's
 * end-of-generation heuristics miss it too. The model then writes entry after entry until
 * max_tokens or the context runs out: a long generation for tests that need one.
 */
export async function writeEndlessModel(source: string, destination: string): Promise<void> {
  const bytes = await readFile(source);
  const key = Buffer.from('tokenizer.ggml.eos_token_id');
  const keyAt = patchOnce(bytes, key, 'eos_token_id key');
  // After the key: the value type (uint32 = 4), then the value.
  if (bytes.readUInt32LE(keyAt + key.length) !== 4) throw new Error('eos_token_id is not uint32');
  bytes.writeUInt32LE(0, keyAt + key.length + 4);
  // A GGUF string: its length as uint64, then the bytes.
  const piece = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('</s>')]);
  bytes.write('</z>', patchOnce(bytes, piece, '</s> piece') + 8);
  await writeFile(destination, bytes);
}
