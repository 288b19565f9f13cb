// npm run bench: what the rate limiter costs per request; writes its section of docs/benchmarks.md.
// BENCH_ROUNDS (default 2) and BENCH_SECONDS (default 10) trade run time for steadier numbers.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { clockTicksPerSecond, cpuTicks } from './proc-cpu.mjs';
import { deleteKeys, redisAnswers, redisServerPid } from './redis.mjs';
import { writeSection } from './markdown.mjs';
import { describeMachine, renderSection } from './report.mjs';
import { snapshotBuild, startServer } from './server.mjs';
import { runWrk, wrkVersion } from './wrk.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 3;
const CONNECTIONS = 32;
const REDIS_URL = 'redis://127.0.0.1:6379';
const REPORT = 'docs/benchmarks.md';

const version = wrkVersion();
if (!version) {
  console.error('wrk is not installed. On Debian/Ubuntu: sudo apt-get install -y wrk');
  process.exit(1);
}
if (!existsSync('dist/src/main.js')) {
  console.error('dist/src/main.js is missing: run `npm run bench` (it builds first).');
  process.exit(1);
}

const adminKey = `bench_${randomBytes(17).toString('hex')}`; // 40 characters
const auth = { Authorization: `Bearer ${adminKey}` };
const redisPrefix = `inference-api-bench-${process.pid}-${Date.now()}:`;
const common = {
  ADMIN_API_KEY: adminKey,
  RATE_LIMIT_RPM: '100000000',
  RATE_LIMIT_TPM: '100000000',
};
const scenarios = [
  { id: 'A', label: 'limiter on, memory store', env: { RATE_LIMIT_ENABLED: 'true' } },
  { id: 'B', label: 'limiter off', env: { RATE_LIMIT_ENABLED: 'false' } },
];
const withRedis = await redisAnswers(REDIS_URL);
if (withRedis) {
  scenarios.push({
    id: 'C',
    label: 'limiter on, Redis store',
    env: { RATE_LIMIT_ENABLED: 'true', REDIS_URL, REDIS_KEY_PREFIX: redisPrefix },
  });
} else {
  console.warn(`No Redis at ${REDIS_URL}: skipping scenario C.`);
}
const redisServer = withRedis ? await redisServerPid(REDIS_URL) : null;
const baseline = { id: 'H', label: 'baseline, no auth or limiter', route: '/healthz', rounds: [] };
for (const s of scenarios) Object.assign(s, { route: '/v1/models', rounds: [] });

const ticksPerSecond = clockTicksPerSecond();

/**
 * A warm-up run (discarded), then the measured run with the server's CPU time around it, and
 * redis-server's when `redisPid` is given.
 */
async function measure(server, { route, headers = {}, warmupSeconds, redisPid = null }) {
  const url = `${server.baseUrl}${route}`;
  if (warmupSeconds > 0)
    await runWrk({ url, headers, seconds: warmupSeconds, connections: CONNECTIONS });
  const cpuOf = (pid) => (pid ? cpuTicks(pid) : 0);
  const before = { server: cpuTicks(server.pid), redis: cpuOf(redisPid) };
  const result = await runWrk({ url, headers, seconds: SECONDS, connections: CONNECTIONS });
  const after = { server: cpuTicks(server.pid), redis: cpuOf(redisPid) };
  const usPerRequest = (ticks) => (ticks * 1e6) / ticksPerSecond / result.requests;
  return {
    ...result,
    cpuUs: usPerRequest(after.server - before.server),
    ...(redisPid ? { redisCpuUs: usPerRequest(after.redis - before.redis) } : {}),
  };
}

const build = snapshotBuild();
let running = null;
async function cleanup() {
  await running?.stop();
  running = null;
  build.remove();
  if (withRedis) {
    const deleted = await deleteKeys(REDIS_URL, redisPrefix).catch((error) => {
      console.warn(`could not delete Redis keys under ${redisPrefix}: ${error.message}`);
      return 0;
    });
    console.log(`deleted ${deleted} Redis key(s) under ${redisPrefix}`);
  }
}
const interrupted = async () => {
  await cleanup();
  process.exit(130);
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

const startedAt = Date.now();
try {
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const scenario of scenarios) {
      running = await startServer({ entry: build.entry, env: { ...common, ...scenario.env } });
      try {
        const result = await measure(running, {
          route: scenario.route,
          headers: auth,
          warmupSeconds: WARMUP_SECONDS,
          redisPid: scenario.id === 'C' ? redisServer : null,
        });
        scenario.rounds.push(result);
        console.log(
          `round ${round} ${scenario.id} (${scenario.label}): ${result.requestsPerSecond.toFixed(0)} req/s, ` +
            `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.cpuUs.toFixed(1)} µs CPU/request`,
        );
        if (scenario.id === 'B') {
          const health = await measure(running, { route: baseline.route, warmupSeconds: 1 });
          baseline.rounds.push(health);
          console.log(
            `round ${round} H (/healthz): ${health.requestsPerSecond.toFixed(0)} req/s, ` +
              `${health.cpuUs.toFixed(1)} µs CPU/request`,
          );
        }
      } finally {
        await running.stop();
        running = null;
      }
    }
  }
} finally {
  await cleanup();
}

const wrkCommand =
  `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s --latency -H 'Authorization: Bearer <key>' ` +
  `http://127.0.0.1:<port>/v1/models`;
writeSection(
  REPORT,
  'rate-limiter',
  renderSection({
    scenarios: [...scenarios, baseline],
    machine: describeMachine(version),
    command: 'npm run bench',
    wrkCommand,
    rounds: ROUNDS,
    seconds: SECONDS,
  }),
);
console.log(`wrote ${REPORT} in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);

// Gateway overhead: starts its own fake upstream and gateway, writes its own section.
const { runGatewayBenchmark } = await import('./gateway.mjs');
await runGatewayBenchmark();

// Observability overhead: its own servers, fake upstream and OTLP sink; writes its own section.
const { runObservabilityBenchmark } = await import('./observability.mjs');
await runObservabilityBenchmark();

// The built-in model: tokens per second, time to first token, threads, RSS; writes its section.
const { runLocalModelBenchmark } = await import('./local-model.mjs');
await runLocalModelBenchmark();
