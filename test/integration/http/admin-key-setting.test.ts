import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp } from '../../support/app.js';
import { apiClient } from '../../support/client.js';

const NEW_ADMIN_KEY = 'sk-test-admin-rotated-0123456789abcdefghijklmnopqrstuvw';
let dataDir: string;

/** Starts the app on the shared data directory, as a restart with other settings would. */
async function statusesAfterStart(adminApiKey: string): Promise<{
  old: number;
  rotated: number;
  logs: Record<string, unknown>[];
}> {
  const t = await startTestApp({ DATA_DIR: dataDir, ADMIN_API_KEY: adminApiKey });
  try {
    const api = apiClient(t.app.http);
    return {
      old: (await api('GET', '/v1/organizations', { token: ADMIN_KEY })).status,
      rotated: (await api('GET', '/v1/organizations', { token: NEW_ADMIN_KEY })).status,
      logs: t.logs,
    };
  } finally {
    await t.close();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'inference-admin-key-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the stored platform-admin key follows ADMIN_API_KEY across restarts', () => {
  it('works while set, stops when unset, is replaced when changed, returns when set again', async () => {
    expect(await statusesAfterStart(ADMIN_KEY)).toMatchObject({ old: 200, rotated: 401 });

    const unset = await statusesAfterStart('');
    expect(unset).toMatchObject({ old: 401, rotated: 401 });
    expect(
      unset.logs.some((line) => String(line.msg).includes('platform-admin key is revoked')),
    ).toBe(true);
    // Nothing left to revoke on the next start: no repeated warning.
    const again = await statusesAfterStart('');
    expect(again.logs.some((line) => String(line.msg).includes('platform-admin key'))).toBe(false);

    expect(await statusesAfterStart(NEW_ADMIN_KEY)).toMatchObject({ old: 401, rotated: 200 });
    expect(await statusesAfterStart(ADMIN_KEY)).toMatchObject({ old: 200, rotated: 401 });
  }, 120_000);
});
