import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/server-process.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Only over HTTPS: whether the server's certificate verified against the test CA. */
  authorized?: boolean;
}

/** One request that follows no redirect, so the 308 itself can be inspected. */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer } = {},
): Promise<Answer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        // Read now: the socket goes back to the agent once the body has ended.
        const authorized =
          target.protocol === 'https:' ? (response.socket as TLSSocket).authorized : undefined;
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            ...(authorized === undefined ? {} : { authorized }),
          });
        });
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

describe('HTTP_REDIRECT_PORT with TLS on', () => {
  let dir: string;
  let child: ChildProcess;
  let output = '';
  let ca: Buffer;
  let httpsPort: number;
  let redirectPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'inference-api-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    // A self-signed certificate for 127.0.0.1 that the client below trusts as its only CA.
    execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    ca = await readFile(cert);
    httpsPort = await freePort();
    redirectPort = await freePort();
    child = spawn(process.execPath, [path.resolve('dist/src/main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: path.join(dir, 'data'),
        HOST: '127.0.0.1',
        PORT: String(httpsPort),
        HTTP_REDIRECT_PORT: String(redirectPort),
        METRICS_PORT: '0',
        TLS_CERT_FILE: cert,
        TLS_KEY_FILE: key,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => (output += `${line}\n`));
    // main.ts logs `listening` once both listeners are up.
    await Promise.race([
      new Promise<void>((resolve) =>
        lines.on('line', (line) => {
          if (line.includes('"msg":"listening"')) resolve();
        }),
      ),
      once(child, 'exit').then(() => {
        throw new Error(`server exited early:\n${output}`);
      }),
    ]);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('answers plain HTTP with a 308 to the same URL over HTTPS, with the usual headers', async () => {
    const answer = await send(`http://127.0.0.1:${redirectPort}/v1/chat/completions?trace=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-redirect-1' },
      body: '{"model":"tiny-wordnet","messages":[]}',
    });

    expect(answer.status).toBe(308);
    expect(answer.headers.location).toBe(
      `https://127.0.0.1:${httpsPort}/v1/chat/completions?trace=1`,
    );
    expect(answer.headers['x-request-id']).toBe('req-redirect-1');
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  it('gives every redirect a request id of its own when the client sends none', async () => {
    const answer = await send(`http://127.0.0.1:${redirectPort}/healthz`);
    expect(answer.status).toBe(308);
    expect(answer.headers['x-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
  });

  it('sends the client to a listener that serves real TLS', async () => {
    const { headers } = await send(`http://127.0.0.1:${redirectPort}/healthz`);

    const answer = await send(String(headers.location), { ca });

    expect(answer.authorized).toBe(true);
    expect(answer.status).toBe(200);
    expect(answer.headers['strict-transport-security']).toBeDefined();
  });

  it('refuses a Host that could steer the redirect elsewhere, in the error shape', async () => {
    const answer = await send(`http://127.0.0.1:${redirectPort}/x`, {
      headers: { host: 'evil.example/path' },
    });

    expect(answer.status).toBe(422);
    expect(answer.headers.location).toBeUndefined();
    expect(answer.headers['x-request-id']).toBeDefined();
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'VALIDATION_ERROR', param: 'Host' },
    });
  });

  it('closes the redirect listener too on SIGTERM, and exits 0', async () => {
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(0);
    await expect(send(`http://127.0.0.1:${redirectPort}/healthz`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
