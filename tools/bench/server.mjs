// Starts the built server on a free port with a fresh DATA_DIR, and stops it.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
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
 * Copies dist/ to a temp directory so that every scenario runs the same build even if dist/ is
 * rebuilt meanwhile (npm run build starts with rm -rf dist). node_modules is linked, not copied.
 */
export function snapshotBuild(root = process.cwd()) {
  const dir = mkdtempSync(path.join(tmpdir(), 'inference-api-bench-build-'));
  cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
  copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json')); // "type": "module"
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return {
    entry: path.join(dir, 'dist/src/main.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Resolves to { pid, baseUrl, stop } once /healthz answers 200. `stop` is safe to call twice and
 * also removes the temp DATA_DIR.
 */
export async function startServer({ entry, env, startupTimeoutMs = 30_000 }) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'inference-api-bench-'));
  const port = await freePort();
  const baseUrl = `http://${HOST}:${port}`;
  const child = spawn(process.execPath, [entry], {
    // Only PATH from this environment, so no stray DATABASE_URL or REDIS_URL changes the scenario.
    env: {
      PATH: process.env.PATH,
      METRICS_PORT: '0',
      ...env,
      HOST,
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let exitStatus;
  exited.then((status) => (exitStatus = status));

  const stop = async () => {
    if (exitStatus === undefined) {
      child.kill('SIGTERM');
      const status = await Promise.race([exited, sleep(15_000, 'timeout', { ref: false })]);
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
