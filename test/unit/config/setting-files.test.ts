import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { problemsOf } from './problems.js';

const dir = mkdtempSync(path.join(tmpdir(), 'setting-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const pkcs8 = { privateKeyEncoding: { format: 'pem', type: 'pkcs8' } } as const;
const pem = (type: 'ec' | 'rsa'): string =>
  type === 'ec'
    ? generateKeyPairSync('ec', {
        namedCurve: 'P-256',
        ...pkcs8,
        publicKeyEncoding: { format: 'pem', type: 'spki' },
      }).privateKey
    : generateKeyPairSync('rsa', {
        modulusLength: 2048,
        ...pkcs8,
        publicKeyEncoding: { format: 'pem', type: 'spki' },
      }).privateKey;

describe('settings that name files', () => {
  it('names JWT_PRIVATE_KEY_FILE when its file is missing', () => {
    const missing = path.join(dir, 'missing-key.pem');
    expect(problemsOf({ JWT_PRIVATE_KEY_FILE: missing })).toEqual([
      `JWT_PRIVATE_KEY_FILE: cannot read file ${missing} (ENOENT)`,
    ]);
  });

  it('names JWT_PRIVATE_KEY_FILE when its file is not an EC P-256 private key', () => {
    const text = write('not-a-key.pem', 'hello\n');
    const rsa = write('rsa.pem', pem('rsa'));
    expect(problemsOf({ JWT_PRIVATE_KEY_FILE: text })).toEqual([
      `JWT_PRIVATE_KEY_FILE: ${text} is not a PEM private key`,
    ]);
    expect(problemsOf({ JWT_PRIVATE_KEY_FILE: rsa })).toEqual([
      `JWT_PRIVATE_KEY_FILE: ${rsa} is not an EC P-256 key`,
    ]);
  });

  it('accepts an EC P-256 key in JWT_PRIVATE_KEY_FILE', () => {
    const key = write('signing-key.pem', pem('ec'));
    expect(loadConfig({ JWT_PRIVATE_KEY_FILE: key }).jwt.privateKeyFile).toBe(key);
  });

  it('reads MODELS_FILE with the other settings and reports its problems among theirs', () => {
    const missingKey = path.join(dir, 'absent.pem');
    const table = write('models.yaml', 'providers: {}\nmodels:\n  - id: m\n    targets: []\n');
    const problems = problemsOf({
      JWT_PRIVATE_KEY_FILE: missingKey,
      MODELS_FILE: table,
      OPENAI_API_KEY: 'sk-test',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'OPENAI_BASE_URL: required when OPENAI_API_KEY is set',
        `JWT_PRIVATE_KEY_FILE: cannot read file ${missingKey} (ENOENT)`,
        expect.stringMatching(/^MODELS_FILE: models\[0\]\.targets/) as unknown,
      ]),
    );
  });

  it('hands the validated MODELS_FILE table to the app', () => {
    const table = write(
      'good.yaml',
      'models:\n  - id: echo\n    targets:\n      - provider: local\n        model: tiny-wordnet\n',
    );
    expect(loadConfig({ MODELS_FILE: table }).modelsFile?.routes.map((route) => route.id)).toEqual([
      'echo',
    ]);
  });
});
