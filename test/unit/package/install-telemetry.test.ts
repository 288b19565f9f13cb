import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * `@scarf/scarf` (pulled in by swagger-ui-dist and Spectral) reports every `npm ci` to scarf.sh
 * from its post-install script. Its own SCARF_LOCAL_PORT switch points it at plain HTTP on
 * localhost, so the real script runs here against a listener that counts what it would send.
 */
const require = createRequire(import.meta.url);
const REPORT_SCRIPT = path.join(
  path.dirname(require.resolve('@scarf/scarf/package.json')),
  'report.js',
);

let collector: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => collector?.close(resolve));
  collector = undefined;
});

async function runPostInstall(port: number): Promise<number | null> {
  const child = spawn(process.execPath, [REPORT_SCRIPT], {
    cwd: path.dirname(REPORT_SCRIPT),
    // What npm hands a dependency's post-install; nothing from the developer's shell (such as
    // DO_NOT_TRACK) may opt out on the project's behalf.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      INIT_CWD: process.cwd(),
      SCARF_LOCAL_PORT: String(port),
    },
    stdio: 'ignore',
  });
  return new Promise((resolve) => child.on('exit', resolve));
}

describe('npm install telemetry', () => {
  it('the scarf post-install sends nothing, because the root package.json opts out', async () => {
    const received: string[] = [];
    collector = createServer((request, response) => {
      received.push(`${request.method} ${request.url}`);
      response.end();
    });
    await new Promise<void>((resolve) => collector?.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;

    await runPostInstall(port);

    expect(received).toEqual([]);
  });
});
