import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { readOrCreateSecretFile } from './secret-file.js';

/** A public key as published in the JWKS: never any private part. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface VerificationKey {
  kid: string;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

export interface KeyFiles {
  dataDir: string;
  privateKeyFile?: string;
  extraPublicKeyFiles?: string[];
}

export function jwtDir(dataDir: string): string {
  return path.join(dataDir, 'jwt');
}

function assertP256(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${source} is not an EC P-256 key`);
  }
}

async function describe(publicKey: KeyObject, source: string): Promise<VerificationKey> {
  assertP256(publicKey, source);
  const { x, y } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string' || typeof y !== 'string') throw new Error(`${source} has no EC point`);
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x, y }, 'sha256');
  return { kid, publicKey, jwk: { kty: 'EC', crv: 'P-256', x, y, kid, alg: 'ES256', use: 'sig' } };
}

function generatePkcs8Pem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The EC P-256 private key in `pem`; throws naming `source` when it is anything else. */
export function parseSigningKey(pem: string | Buffer, source: string): KeyObject {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`${source} is not a PEM private key`, { cause: error });
  }
  assertP256(privateKey, source);
  return privateKey;
}

async function loadSigningKey(files: KeyFiles): Promise<SigningKey> {
  const source = files.privateKeyFile ?? path.join(jwtDir(files.dataDir), 'signing-key.pem');
  const pem =
    files.privateKeyFile === undefined
      ? await readOrCreateSecretFile(source, generatePkcs8Pem)
      : await readFile(source, 'utf8');
  const privateKey = parseSigningKey(pem, source);
  return { ...(await describe(createPublicKey(privateKey), source)), privateKey };
}

async function previousKeyFiles(dataDir: string): Promise<string[]> {
  const dir = path.join(jwtDir(dataDir), 'previous');
  try {
    const names = await readdir(dir);
    return names
      .filter((name) => name.endsWith('.pem'))
      .sort()
      .map((name) => path.join(dir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function loadVerificationKey(file: string): Promise<VerificationKey> {
  let publicKey: KeyObject;
  try {
    // Also accepts a private key PEM (its public half is derived), so a key moved whole still works.
    publicKey = createPublicKey(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not a PEM public key`, { cause: error });
  }
  return describe(publicKey, file);
}

/**
 * The signing key and every key tokens may still be verified with: the signing key first, then the
 * previous keys of a rotation (`extraPublicKeyFiles` when given, else `<dataDir>/jwt/previous/*.pem`).
 * Any unreadable file fails startup: silently dropping a key would log everybody out.
 */
export async function loadKeys(
  files: KeyFiles,
): Promise<{ signing: SigningKey; verification: VerificationKey[] }> {
  const signing = await loadSigningKey(files);
  const extra = await Promise.all(
    (files.extraPublicKeyFiles ?? (await previousKeyFiles(files.dataDir))).map(loadVerificationKey),
  );
  const verification: VerificationKey[] = [signing];
  for (const key of extra) {
    if (!verification.some((known) => known.kid === key.kid)) verification.push(key);
  }
  return { signing, verification };
}
