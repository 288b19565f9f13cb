// The fake upstream's process: started with tsx (it is TypeScript from test/support), stopped by pid.
import { spawn } from 'node:child_process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const LAUNCHER = fileURLToPath(new URL('./fake-upstream.mjs', import.meta.url));

/**
 * Resolves to { pid, url, stop } once the fake prints its URL. `stop` sends SIGTERM at once (so a
 * caller that cannot wait still ends it) and resolves when the process has exited.
 */
export async function startFakeUpstream({ apiKey, startupTimeoutMs = 30_000 }) {
  const child = spawn(process.execPath, ['--import', 'tsx', LAUNCHER, apiKey], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let exitStatus;
  exited.then((status) => (exitStatus = status));

  const stop = async () => {
    if (exitStatus !== undefined) return;
    child.kill('SIGTERM');
    if ((await Promise.race([exited, sleep(10_000, 'timeout', { ref: false })])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };

  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`fake upstream printed no URL in ${startupTimeoutMs} ms`)),
        startupTimeoutMs,
      );
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /^url=(\S+)$/m.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      exited.then((status) => {
        clearTimeout(timer);
        reject(new Error(`fake upstream exited (${status}):\n${stderr}`));
      });
    });
    child.stdout.resume();
    return { pid: child.pid, url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
