// Starts the built server (dist/src/main.js) on a free port with a fresh DATA_DIR, and stops it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const request = get(url, { timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(null));
  });
}

/**
 * Resolves to { pid, baseUrl, stop } once /healthz answers 200. `stop` is safe to call twice and
 * also removes the temp DATA_DIR.
 */
export async function startServer({ env, startupTimeoutMs = 30_000 }) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'inference-api-bench-'));
  const port = await freePort();
  const baseUrl = `http://${HOST}:${port}`;
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...process.env, ...env, HOST, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let exitStatus;
  exited.then((status) => (exitStatus = status));

  const stop = async () => {
    if (exitStatus === undefined) {
      child.kill('SIGTERM');
      const status = await Promise.race([exited, sleep(15_000, 'timeout')]);
      if (status === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + startupTimeoutMs;
    while ((await httpStatus(`${baseUrl}/healthz`)) !== 200) {
      if (exitStatus !== undefined) throw new Error(`server exited (${exitStatus}):\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`server not healthy after ${startupTimeoutMs} ms`);
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid, baseUrl, stop, stderr: () => stderr };
}
