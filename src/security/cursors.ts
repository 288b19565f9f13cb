import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { validationError } from '../domain/errors.js';
import type { CursorCodec } from '../domain/identity/ports.js';
import { readOrCreateSecretFile } from './secret-file.js';

export type CursorCodecOptions = { dataDir: string } | { secret: Buffer };

const VERSION = 1;
const MIN_SECRET_BYTES = 32;
// Cursors hold a position, not data; anything this long was not made here.
const MAX_CURSOR_LENGTH = 2048;
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

interface Envelope {
  v: number;
  l: string;
  p: Record<string, unknown>;
}

function refused() {
  return validationError('cursor', 'Cursor is malformed or was not issued for this list');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function loadSecret(
  options: CursorCodecOptions,
): Promise<{ secret: Buffer; source: string }> {
  if ('secret' in options) return { secret: options.secret, source: 'The cursor secret' };
  const file = path.join(options.dataDir, 'cursor-secret');
  const text = await readOrCreateSecretFile(
    file,
    () => `${randomBytes(MIN_SECRET_BYTES).toString('base64url')}\n`,
  );
  return { secret: Buffer.from(text.trim(), 'base64url'), source: file };
}

/**
 * Cursors are `<base64url JSON>.<base64url HMAC-SHA256>`: the JSON names the list and the format
 * version, and the MAC covers the encoded text exactly, so no re-encoding of it is accepted.
 */
export async function createCursorCodec(options: CursorCodecOptions): Promise<CursorCodec> {
  const { secret, source } = await loadSecret(options);
  if (secret.length < MIN_SECRET_BYTES) {
    throw new Error(`${source} must hold at least ${MIN_SECRET_BYTES} bytes (base64url)`);
  }
  const mac = (body: string) => createHmac('sha256', secret).update(body, 'utf8').digest();

  return {
    encode(list, payload) {
      const envelope: Envelope = { v: VERSION, l: list, p: payload };
      const body = Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64url');
      return `${body}.${mac(body).toString('base64url')}`;
    },

    decode(cursor, list) {
      if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH || !SHAPE.test(cursor)) {
        throw refused();
      }
      const dot = cursor.indexOf('.');
      const body = cursor.slice(0, dot);
      // Comparing the encoded text also refuses a MAC re-encoded with different spare bits.
      const given = Buffer.from(cursor.slice(dot + 1), 'latin1');
      const expected = Buffer.from(mac(body).toString('base64url'), 'latin1');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused();
      let envelope: unknown;
      try {
        envelope = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      } catch {
        throw refused();
      }
      if (
        !isPlainObject(envelope) ||
        envelope.v !== VERSION ||
        envelope.l !== list ||
        !isPlainObject(envelope.p)
      ) {
        throw refused();
      }
      return envelope.p;
    },
  };
}
