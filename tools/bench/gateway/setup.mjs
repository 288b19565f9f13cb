// What every benchmark of the gateway in front of the fake upstream needs before it starts.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { wrkVersion } from '../wrk.mjs';

/** wrk's version; throws when wrk or the build is missing. */
export function requireWrkAndBuild() {
  const version = wrkVersion();
  if (!version) throw new Error('wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)');
  if (!existsSync('dist/src/main.js')) throw new Error('dist/src/main.js is missing: build first');
  return version;
}

/** Fresh keys and the server settings that let the load reach the gateway's own work. */
export function gatewaySettings() {
  const adminKey = `bench_${randomBytes(17).toString('hex')}`;
  const upstreamKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const settings = {
    OPENAI_API_KEY: upstreamKey,
    ADMIN_API_KEY: adminKey,
    RATE_LIMIT_RPM: '100000000',
    RATE_LIMIT_TPM: '100000000',
    RESPONSE_CACHE_TTL_SECONDS: '0',
    // Above the load's connections: the generation gate (8 slots by default) would otherwise
    // queue half of them, which measures the queue, not the gateway's work.
    MAX_CONCURRENT_GENERATIONS: '64',
  };
  return { adminKey, upstreamKey, settings };
}
