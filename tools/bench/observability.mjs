// Observability overhead: requests/s and server CPU per request with Prometheus metrics and
// OpenTelemetry tracing on (spans exported over OTLP/HTTP to a local sink), against both off, and
// metrics alone between them; writes its section of docs/benchmarks.md. Part of `npm run bench`;
// alone, after `npm run build`: `node tools/bench/observability.mjs`. BENCH_ROUNDS (default 2)
// and BENCH_SECONDS (default 10) as in run.mjs. BENCH_OBSERVABILITY_CPU_PROF=<dir> writes each
// server's V8 CPU profile there instead of a report (the profiler's own cost would skew the numbers).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkOnce, REQUEST } from './gateway.mjs';
import { startFakeUpstream } from './gateway/processes.mjs';
import { runWrkPost, writePostScript } from './gateway/wrk-post.mjs';
import { writeSection } from './markdown.mjs';
import { startOtlpSink } from './observability/otlp-sink.mjs';
import { renderObservabilitySection } from './observability/report.mjs';
import { clockTicksPerSecond, cpuTicks } from './proc-cpu.mjs';
import { describeMachine } from './report.mjs';
import { gatewaySettings, requireWrkAndBuild } from './gateway/setup.mjs';
import { snapshotBuild, startServer } from './server.mjs';
import { runWrk } from './wrk.mjs';

const REPORT = 'docs/benchmarks.md';
const PROFILE_ENTRY = fileURLToPath(new URL('./gateway/cpu-profile-entry.mjs', import.meta.url));
const CONNECTIONS = 16;
const WARMUP_SECONDS = 3;

/** What is switched on; `tracing` points OTEL_EXPORTER_OTLP_ENDPOINT at the sink. */
const CONFIGS = [
  { id: 'off', label: 'both off', metrics: false, tracing: false },
  { id: 'metrics', label: 'metrics only', metrics: true, tracing: false },
  { id: 'on', label: 'metrics and tracing', metrics: true, tracing: true },
];
const ROUTES = [
  { id: 'models', method: 'GET', path: '/v1/models', serverSpan: 'GET /v1/models' },
  {
    id: 'chat',
    method: 'POST',
    path: '/v1/chat/completions',
    serverSpan: 'POST /v1/chat/completions',
  },
];

export async function runObservabilityBenchmark({
  rounds = Number(process.env.BENCH_ROUNDS ?? 2),
  seconds = Number(process.env.BENCH_SECONDS ?? 10),
  report = REPORT,
  cpuProfileDir = process.env.BENCH_OBSERVABILITY_CPU_PROF,
} = {}) {
  const version = requireWrkAndBuild();
  const { adminKey, upstreamKey, settings } = gatewaySettings();

  const auth = { Authorization: `Bearer ${adminKey}` };
  const ticksPerSecond = clockTicksPerSecond();
  const scratch = mkdtempSync(path.join(tmpdir(), 'inference-api-bench-observability-'));
  const build = snapshotBuild();
  let fake = null;
  let sink = null;
  let server = null;

  let cleaned = null;
  const cleanup = () => {
    cleaned ??= Promise.allSettled([server?.stop(), fake?.stop(), sink?.close()]).then(
      () => undefined,
    );
    rmSync(scratch, { recursive: true, force: true });
    build.remove();
    return cleaned;
  };
  const interrupted = async () => {
    await cleanup();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const scenarios = ROUTES.flatMap((route) =>
    CONFIGS.map((config) => ({ id: `${route.id}-${config.id}`, route, config, rounds: [] })),
  );
  const exports = []; // per round: what the sink received from the `on` server, per route
  const startedAt = Date.now();
  const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(0)} s`;
  try {
    const script = writePostScript(scratch, 'post', REQUEST);
    sink = await startOtlpSink();
    fake = await startFakeUpstream({ apiKey: upstreamKey });
    const load = (route, baseUrl, runSeconds) => {
      const options = {
        url: `${baseUrl}${route.path}`,
        headers: auth,
        seconds: runSeconds,
        connections: CONNECTIONS,
      };
      return route.method === 'GET' ? runWrk(options) : runWrkPost({ ...options, script });
    };

    for (let round = 1; round <= rounds; round += 1) {
      // Alternate the order, so that a drift over the run (another tenant, a warming cache) does
      // not always favour the same configuration.
      const order = round % 2 === 1 ? CONFIGS : [...CONFIGS].reverse();
      for (const config of order) {
        const sent = Object.fromEntries(ROUTES.map((route) => [route.id, 0]));
        const sinkBefore = sink.counts();
        server = await startServer({
          entry: cpuProfileDir ? PROFILE_ENTRY : build.entry,
          env: {
            ...settings,
            OPENAI_BASE_URL: fake.url,
            METRICS_ENABLED: String(config.metrics),
            ...(config.tracing ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } : {}),
            ...(cpuProfileDir
              ? {
                  BENCH_PROFILE_ENTRY: build.entry,
                  BENCH_PROFILE_DIR: path.resolve(cpuProfileDir),
                  BENCH_PROFILE_NAME: `observability-${config.id}`,
                }
              : {}),
          },
        });
        try {
          await checkOnce(`${server.baseUrl}/v1/chat/completions`, auth.Authorization);
          sent.chat += 1;
          for (const route of ROUTES) {
            const scenario = scenarios.find((s) => s.id === `${route.id}-${config.id}`);
            sent[route.id] += (await load(route, server.baseUrl, WARMUP_SECONDS)).requests;
            const before = cpuTicks(server.pid);
            const result = await load(route, server.baseUrl, seconds);
            const after = cpuTicks(server.pid);
            sent[route.id] += result.requests;
            const cpuUs = ((after - before) * 1e6) / ticksPerSecond / result.requests;
            scenario.rounds.push({ ...result, cpuUs });
            console.log(
              `observability bench round ${round} ${route.method} ${route.path}, ${config.label}: ` +
                `${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms} ms, ` +
                `p99 ${result.p99Ms} ms, ${cpuUs.toFixed(1)} µs CPU/request` +
                (result.socketErrors ? ` (socket errors:${result.socketErrors})` : '') +
                ` [${elapsed()}]`,
            );
          }
        } catch (error) {
          // A server that died mid-run: its last words say why, not the missing /proc entry.
          throw new Error(`${error.message}\nserver stderr:\n${server.stderr()}`, { cause: error });
        } finally {
          // Stopping drains the server, and its tracing exports what it still buffers.
          await server.stop();
          server = null;
        }
        if (config.tracing) {
          const after = sink.counts();
          const received = (name) => (after.byName[name] ?? 0) - (sinkBefore.byName[name] ?? 0);
          exports.push({
            posts: after.requests - sinkBefore.requests,
            bytes: after.bytes - sinkBefore.bytes,
            spans: after.spans - sinkBefore.spans,
            rejected: after.rejected - sinkBefore.rejected,
            routes: ROUTES.map((route) => ({
              ...route,
              sent: sent[route.id],
              serverSpans: received(route.serverSpan),
            })),
          });
          const last = exports.at(-1);
          console.log(
            `observability bench round ${round}: the sink received ${last.spans} spans in ` +
              `${last.posts} exports (${(last.bytes / 1e6).toFixed(1)} MB); ` +
              last.routes
                .map((r) => `${r.serverSpans} ${r.serverSpan} spans for ${r.sent} requests`)
                .join(', '),
          );
        }
      }
    }
  } finally {
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }

  if (cpuProfileDir) {
    console.log(`observability CPU profiles written to ${cpuProfileDir}; no report written`);
    return;
  }
  writeSection(
    report,
    'observability',
    renderObservabilitySection({
      scenarios,
      routes: ROUTES,
      configs: CONFIGS,
      exports,
      machine: describeMachine(version),
      command: 'npm run bench',
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      seconds,
      rounds,
      settings: Object.entries({ ...settings, OPENAI_BASE_URL: '<fake>/v1' })
        .map(([name, value]) =>
          name.endsWith('_KEY') ? `\`${name}=<random>\`` : `\`${name}=${value}\``,
        )
        .join(', '),
    }),
  );
  console.log(`wrote ${report} (observability overhead) in ${elapsed()}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runObservabilityBenchmark();
}
