import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';

export const ADMIN_KEY = 'sk-test-admin-0123456789abcdefghijklmnopqrstuvwxyz';
export const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };

export interface TestApp {
  app: App;
  /** Every log line written so far, parsed. */
  logs: Record<string, unknown>[];
  rawLogs: () => string;
  close(): Promise<void>;
}

/** A real app on a fresh embedded database in a temp dir (or on `env.DATABASE_URL` if given). */
export async function startTestApp(
  env: Record<string, string> = {},
  options: AppOptions = {},
): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'inference-api-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'info',
    ...env,
  });
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw += chunk.toString('utf8');
      callback();
    },
  });
  const app = await buildApp(config, createLogger(config.logLevel, sink), options);
  return {
    app,
    get logs() {
      return raw
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    rawLogs: () => raw,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function parseSse(body: string): string[] {
  return body
    .split('\n\n')
    .map((event) => event.trim())
    .filter((event) => event !== '')
    .map((event) => {
      if (!event.startsWith('data: ')) throw new Error(`not an SSE data event: ${event}`);
      return event.slice('data: '.length);
    });
}
