import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import type { AccessTokenIssuer } from '../../../src/domain/identity/ports.js';
import {
  createAccessTokens,
  type AccessTokenOptions,
} from '../../../src/security/access-tokens.js';

const ISSUER = 'https://api.test';
const AUDIENCE = 'inference-api';
const CLAIMS = {
  sub: 'user-1',
  sessionId: 'session-1',
  organizationId: 'org-1',
  role: 'member',
} as const;

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'access-tokens-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function tokens(overrides: Partial<AccessTokenOptions> = {}): Promise<AccessTokenIssuer> {
  return createAccessTokens({ issuer: ISSUER, audience: AUDIENCE, dataDir, ...overrides });
}

function shiftedClock(ms: number): () => Date {
  return () => new Date(Date.now() + ms);
}

const signingKeyFile = () => path.join(dataDir, 'jwt', 'signing-key.pem');

async function ourPrivateKey(): Promise<KeyObject> {
  return createPrivateKey(await readFile(signingKeyFile(), 'utf8'));
}

function encode(part: object): string {
  return Buffer.from(JSON.stringify(part)).toString('base64url');
}

function payloadFor(nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  return {
    sub: CLAIMS.sub,
    sid: CLAIMS.sessionId,
    org: CLAIMS.organizationId,
    role: CLAIMS.role,
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + 900,
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
  };
}

/** Signs `payload` with `key` through jose, with whatever header the test wants. */
function signWith(
  key: KeyObject,
  header: Record<string, unknown>,
  payload: Record<string, unknown> = payloadFor(),
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header })
    .sign(key);
}

async function expectUnauthorized(verifier: AccessTokenIssuer, token: string): Promise<AppError> {
  const error: unknown = await verifier.verify(token).then(
    () => new Error('token was accepted'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  const appError = error as AppError;
  expect(appError.code).toBe('UNAUTHORIZED');
  expect(appError.status).toBe(401);
  if (token.length > 0) expect(appError.message).not.toContain(token);
  expect(appError.message.length).toBeLessThan(40);
  return appError;
}

describe('access tokens', () => {
  it('issues an ES256 at+jwt with every claim, and verifies it back', async () => {
    const issuer = await tokens();
    const before = Math.floor(Date.now() / 1000);
    const { token, jti, expiresAt } = await issuer.issue(CLAIMS);

    const [jwk] = issuer.jwks().keys;
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: jwk?.kid });
    expect(header.kid).toBe(
      await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk?.x, y: jwk?.y } as never),
    );

    const payload = decodeJwt(token);
    expect(payload).toMatchObject({
      sub: 'user-1',
      sid: 'session-1',
      org: 'org-1',
      role: 'member',
      iss: ISSUER,
      aud: AUDIENCE,
      jti,
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp).toBe((payload.iat ?? 0) + 900);
    expect(issuer.ttlSeconds).toBe(900);
    expect(expiresAt.getTime()).toBe((payload.exp ?? 0) * 1000);
    expect(Buffer.from(jti, 'base64url').length).toBeGreaterThanOrEqual(16);

    await expect(issuer.verify(token)).resolves.toEqual({ ...CLAIMS, jti, expiresAt });
  });

  it('gives every token its own jti', async () => {
    const issuer = await tokens();
    const [a, b] = await Promise.all([issuer.issue(CLAIMS), issuer.issue(CLAIMS)]);
    expect(a.jti).not.toBe(b.jti);
  });

  it('publishes only public key parts in the JWKS', async () => {
    const { keys } = (await tokens()).jwks();
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0] ?? {}).sort()).toEqual(
      ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'].sort(),
    );
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
  });

  describe('rejects with 401', () => {
    it.each(['', 'abc', 'a.b', 'a.b.c.d', '!!!.@@@.###', 'eyJ.eyJ.sig', 'x'.repeat(10_000)])(
      'malformed token %#',
      async (token) => {
        await expectUnauthorized(await tokens(), token);
      },
    );

    it('a token with a payload that is not base64url JSON', async () => {
      const issuer = await tokens();
      const { token } = await issuer.issue(CLAIMS);
      const [header, , signature] = token.split('.');
      await expectUnauthorized(issuer, `${header}.%%%not-base64%%%.${signature}`);
      await expectUnauthorized(issuer, `${header}.${encode({}).slice(0, -1)}!.${signature}`);
    });

    it('an expired token', async () => {
      const { token } = await (await tokens({ now: shiftedClock(-16 * 60_000) })).issue(CLAIMS);
      const error = await expectUnauthorized(await tokens(), token);
      expect(error.message).toBe('Access token has expired');
    });

    it('a token not valid yet (nbf beyond the clock tolerance)', async () => {
      const { token } = await (await tokens({ now: shiftedClock(2 * 60_000) })).issue(CLAIMS);
      await expectUnauthorized(await tokens(), token);
    });

    it('a token of another issuer or audience', async () => {
      const verifier = await tokens();
      const otherIssuer = await tokens({ issuer: 'https://evil.test' });
      const otherAudience = await tokens({ audience: 'another-api' });
      await expectUnauthorized(verifier, (await otherIssuer.issue(CLAIMS)).token);
      await expectUnauthorized(verifier, (await otherAudience.issue(CLAIMS)).token);
    });

    it('a token whose kid is unknown or missing', async () => {
      const verifier = await tokens();
      const key = await ourPrivateKey();
      await expectUnauthorized(verifier, await signWith(key, { kid: 'unknown-kid' }));
      await expectUnauthorized(verifier, await signWith(key, {}));
    });

    it('an unsigned token (alg none) with our kid', async () => {
      const verifier = await tokens();
      const kid = verifier.jwks().keys[0]?.kid;
      const header = encode({ alg: 'none', typ: 'at+jwt', kid });
      await expectUnauthorized(verifier, `${header}.${encode(payloadFor())}.`);
      await expectUnauthorized(verifier, `${header}.${encode(payloadFor())}`);
    });

    it('an HS256 token keyed with our public key (algorithm confusion)', async () => {
      const verifier = await tokens();
      const jwk = verifier.jwks().keys[0] ?? {};
      const publicPem = createPublicKey(await ourPrivateKey()).export({
        format: 'pem',
        type: 'spki',
      });
      const body = `${encode({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })}.${encode(payloadFor())}`;
      for (const secret of [publicPem, JSON.stringify(jwk), String(jwk.x)]) {
        const signature = createHmac('sha256', secret).update(body).digest('base64url');
        await expectUnauthorized(verifier, `${body}.${signature}`);
      }
    });

    it('a token signed by another ES256 key that claims our kid', async () => {
      const verifier = await tokens();
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = verifier.jwks().keys[0]?.kid;
      await expectUnauthorized(verifier, await signWith(privateKey, { kid }));
    });

    it('a token whose payload was changed after signing', async () => {
      const verifier = await tokens();
      const { token } = await verifier.issue(CLAIMS);
      const [header, payload, signature] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as object;
      const tampered = encode({ ...claims, role: 'admin' });
      await expectUnauthorized(verifier, `${header}.${tampered}.${signature}`);
    });

    it('a token of our key with the wrong typ or missing or ill-typed claims', async () => {
      const verifier = await tokens();
      const key = await ourPrivateKey();
      const kid = verifier.jwks().keys[0]?.kid;
      await expectUnauthorized(verifier, await signWith(key, { kid, typ: 'JWT' }));
      const valid = payloadFor();
      for (const claim of ['sub', 'sid', 'org', 'role', 'jti', 'exp', 'nbf', 'iat']) {
        const { [claim]: _dropped, ...rest } = valid;
        await expectUnauthorized(verifier, await signWith(key, { kid }, rest));
      }
      for (const [claim, value] of [
        ['role', 'owner'],
        ['sid', 42],
        ['org', ''],
        ['sub', null],
      ] as const) {
        await expectUnauthorized(
          verifier,
          await signWith(key, { kid }, { ...valid, [claim]: value }),
        );
      }
      // The well-formed control case: the crafting above is not what made them fail.
      await expect(verifier.verify(await signWith(key, { kid }, valid))).resolves.toMatchObject({
        role: 'member',
      });
    });
  });

  it('accepts clock skew within the 30 s tolerance', async () => {
    const verifier = await tokens();
    const early = await (await tokens({ now: shiftedClock(20_000) })).issue(CLAIMS);
    const late = await (await tokens({ now: shiftedClock(-(900 + 20) * 1000) })).issue(CLAIMS);
    await expect(verifier.verify(early.token)).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(late.token)).resolves.toMatchObject({ sub: 'user-1' });
  });

  describe('keys', () => {
    it('keeps the generated key across restarts, readable by the owner only', async () => {
      const first = await tokens();
      const { token } = await first.issue(CLAIMS);
      const second = await tokens();
      expect(second.jwks()).toEqual(first.jwks());
      await expect(second.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
      expect((await stat(signingKeyFile())).mode & 0o777).toBe(0o600);
    });

    it('ends with one key when instances start together on an empty data dir', async () => {
      const issuers = await Promise.all(Array.from({ length: 6 }, () => tokens()));
      const kids = new Set(issuers.map((issuer) => issuer.jwks().keys[0]?.kid));
      expect(kids.size).toBe(1);
      expect(await readdir(path.join(dataDir, 'jwt'))).toEqual(['signing-key.pem']);
      const { token } = await (issuers[0] as AccessTokenIssuer).issue(CLAIMS);
      await expect((issuers[5] as AccessTokenIssuer).verify(token)).resolves.toBeTruthy();
    });

    it('still verifies tokens of a rotated-out key kept in previous/', async () => {
      const old = await tokens();
      const oldToken = (await old.issue(CLAIMS)).token;
      const oldKid = old.jwks().keys[0]?.kid;

      const previous = path.join(dataDir, 'jwt', 'previous');
      await mkdir(previous);
      const publicPem = createPublicKey(await ourPrivateKey()).export({
        format: 'pem',
        type: 'spki',
      });
      await writeFile(path.join(previous, 'old.pem'), publicPem);
      await unlink(signingKeyFile());

      const rotated = await tokens();
      const newKid = rotated.jwks().keys[0]?.kid;
      expect(newKid).not.toBe(oldKid);
      expect(rotated.jwks().keys.map((key) => key.kid)).toEqual([newKid, oldKid]);
      expect(decodeProtectedHeader((await rotated.issue(CLAIMS)).token).kid).toBe(newKid);
      await expect(rotated.verify(oldToken)).resolves.toMatchObject({ sub: 'user-1' });

      await unlink(path.join(previous, 'old.pem'));
      const retired = await tokens();
      expect(retired.jwks().keys).toHaveLength(1);
      await expectUnauthorized(retired, oldToken);
    });

    it('uses privateKeyFile and extraPublicKeyFiles when given', async () => {
      const pems = Array.from({ length: 2 }, () => {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return {
          privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }),
          publicPem: publicKey.export({ format: 'pem', type: 'spki' }),
        };
      });
      const files = {
        oldPrivate: path.join(dataDir, 'old.key'),
        oldPublic: path.join(dataDir, 'old.pub'),
        newPrivate: path.join(dataDir, 'new.key'),
      };
      await writeFile(files.oldPrivate, pems[0]?.privatePem ?? '');
      await writeFile(files.oldPublic, pems[0]?.publicPem ?? '');
      await writeFile(files.newPrivate, pems[1]?.privatePem ?? '');

      const old = await tokens({ privateKeyFile: files.oldPrivate });
      const current = await tokens({
        privateKeyFile: files.newPrivate,
        extraPublicKeyFiles: [files.oldPublic],
      });
      expect(current.jwks().keys).toHaveLength(2);
      await expect(current.verify((await old.issue(CLAIMS)).token)).resolves.toBeTruthy();
      await expect(readdir(path.join(dataDir, 'jwt'))).rejects.toThrow();
    });

    it('refuses to start on a key that is not EC P-256 or not a key at all', async () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rsaFile = path.join(dataDir, 'rsa.key');
      await writeFile(rsaFile, rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }));
      await expect(tokens({ privateKeyFile: rsaFile })).rejects.toThrow(/P-256/);

      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const p384File = path.join(dataDir, 'p384.pub');
      await writeFile(p384File, p384.publicKey.export({ format: 'pem', type: 'spki' }));
      await expect(tokens({ extraPublicKeyFiles: [p384File] })).rejects.toThrow(/P-256/);

      await mkdir(path.join(dataDir, 'jwt', 'previous'), { recursive: true });
      await writeFile(path.join(dataDir, 'jwt', 'previous', 'junk.pem'), 'not a key');
      await expect(tokens()).rejects.toThrow(/junk\.pem/);
    });
  });
});
