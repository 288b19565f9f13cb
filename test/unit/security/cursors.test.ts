import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import type { CursorCodec } from '../../../src/domain/identity/ports.js';
import { createCursorCodec } from '../../../src/security/cursors.js';

const POSITION = {
  createdAt: '2024-05-01T12:00:00.000Z',
  id: '5f0c3a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6',
};

function expectRefused(codec: CursorCodec, cursor: string, list = 'users'): void {
  let caught: unknown;
  try {
    codec.decode(cursor, list);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect(caught).toMatchObject({
    code: 'VALIDATION_ERROR',
    param: 'cursor',
    details: [{ field: 'cursor', issue: 'Cursor is malformed or was not issued for this list' }],
  });
}

function flipChar(text: string, index: number): string {
  const char = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + char + text.slice(index + 1);
}

describe('cursor codec', () => {
  let codec: CursorCodec;
  beforeEach(async () => {
    codec = await createCursorCodec({ secret: randomBytes(32) });
  });

  it('round-trips a payload through an opaque URL-safe string', () => {
    const cursor = codec.encode('users', POSITION);
    expect(cursor).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(codec.decode(cursor, 'users')).toEqual(POSITION);
  });

  it('refuses a cursor of another list', () => {
    expectRefused(codec, codec.encode('users', POSITION), 'api_keys');
  });

  it('refuses a forged MAC, a changed payload and a cursor of another secret', async () => {
    const cursor = codec.encode('users', POSITION);
    const [body, mac] = cursor.split('.') as [string, string];
    for (let i = 0; i < mac.length; i += 1) expectRefused(codec, `${body}.${flipChar(mac, i)}`);

    const forgedBody = Buffer.from(
      JSON.stringify({ v: 1, l: 'users', p: { ...POSITION, id: 'someone-else' } }),
    ).toString('base64url');
    expectRefused(codec, `${forgedBody}.${mac}`);
    expectRefused(codec, `${flipChar(body, 5)}.${mac}`);

    const other = await createCursorCodec({ secret: randomBytes(32) });
    expectRefused(other, cursor);
  });

  it('refuses truncated cursors', () => {
    const cursor = codec.encode('users', POSITION);
    for (const cut of [1, 2, 10, 44, 45, cursor.length - 1]) {
      expectRefused(codec, cursor.slice(0, cursor.length - cut));
      expectRefused(codec, cursor.slice(cut));
    }
  });

  it.each([
    '',
    '.',
    'garbage',
    'a.b',
    '%%%.%%%',
    `${'A'.repeat(10)}.${'A'.repeat(43)}`,
    'x'.repeat(5000),
  ])('refuses garbage %#', (cursor) => {
    expectRefused(codec, cursor);
  });

  it('refuses a correctly signed envelope of another version or shape', async () => {
    // Sign envelopes by hand with the codec's own secret to reach the checks after the MAC.
    const secret = randomBytes(32);
    const signed = await createCursorCodec({ secret });
    const sign = (value: unknown) => {
      const body = Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
    };
    expect(signed.decode(sign({ v: 1, l: 'users', p: { a: 1 } }), 'users')).toEqual({ a: 1 });
    for (const envelope of [
      { v: 2, l: 'users', p: {} },
      { l: 'users', p: {} },
      { v: 1, l: 'users', p: [] },
      { v: 1, l: 'users', p: null },
      [1, 'users', {}],
      'users',
    ]) {
      expectRefused(signed, sign(envelope));
    }
  });

  describe('secret file', () => {
    let dataDir: string;
    beforeEach(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'cursors-'));
    });
    afterEach(async () => {
      await rm(dataDir, { recursive: true, force: true });
    });

    it('is generated once (0600) and shared by codecs on the same data dir', async () => {
      const codecs = await Promise.all([1, 2, 3].map(() => createCursorCodec({ dataDir })));
      const cursor = codecs[0]?.encode('users', POSITION) ?? '';
      for (const other of codecs) expect(other.decode(cursor, 'users')).toEqual(POSITION);
      const later = await createCursorCodec({ dataDir });
      expect(later.decode(cursor, 'users')).toEqual(POSITION);

      const file = path.join(dataDir, 'cursor-secret');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const secret = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url');
      expect(secret.length).toBe(32);
      expect((await createCursorCodec({ secret })).decode(cursor, 'users')).toEqual(POSITION);
    });

    it('refuses a secret shorter than 32 bytes', async () => {
      await expect(createCursorCodec({ secret: randomBytes(16) })).rejects.toThrow(/32 bytes/);
    });
  });
});
