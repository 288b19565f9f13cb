// Gateway overhead: latency, throughput and server CPU that the gateway adds in front of an
// upstream, against calling the (fake) upstream directly; writes its section of
// docs/benchmarks.md. Part of `npm run bench`; alone, after `npm run build`:
// `node tools/bench/gateway.mjs`. BENCH_ROUNDS (default 2) and BENCH_SECONDS (default 10) as in
// run.mjs. BENCH_GATEWAY_CPU_PROF=<dir> writes the gateway's V8 CPU profile there instead of a
// report (the profiler's own cost would skew the numbers).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderGatewaySection } from './gateway/report.mjs';
import { writeSection } from './markdown.mjs';
import { startFakeUpstream } from './gateway/processes.mjs';
import { runWrkPost, wrkPostArgs, writePostScript } from './gateway/wrk-post.mjs';
import { clockTicksPerSecond, cpuTicks } from './proc-cpu.mjs';
import { describeMachine } from './report.mjs';
import { gatewaySettings, requireWrkAndBuild } from './gateway/setup.mjs';
import { snapshotBuild, startServer } from './server.mjs';

const REPORT = 'docs/benchmarks.md';
const PROFILE_ENTRY = fileURLToPath(new URL('./gateway/cpu-profile-entry.mjs', import.meta.url));
const LOADED = { connections: 16, warmupSeconds: 3 };
const ONE_AT_A_TIME = { connections: 1, warmupSeconds: 1 };
export const REQUEST = {
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Say the sentence.' }],
  max_tokens: 32,
};
// What the gateway itself sends upstream: every upstream call streams and asks for usage.
const STREAMING_REQUEST = { ...REQUEST, stream: true, stream_options: { include_usage: true } };
const EXPECTED_REPLY = 'The quick brown fox jumps over the lazy dog.'; // the fake's DEFAULT_REPLY

/**
 * One request before any load, so a misconfiguration fails with its answer, not a wrk count.
 * No keep-alive: an idle pooled socket would hold the process open after the benchmark.
 */
export function checkOnce(url, authorization) {
  const body = JSON.stringify(REQUEST);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        timeout: 30_000,
        headers: { authorization, 'content-type': 'application/json', connection: 'close' },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('error', reject);
        response.on('end', () => {
          let content;
          try {
            content = JSON.parse(text).choices?.[0]?.message?.content;
          } catch {
            content = undefined;
          }
          if (response.statusCode === 200 && content === EXPECTED_REPLY) resolve();
          else
            reject(new Error(`POST ${url} answered ${response.statusCode}: ${text.slice(0, 500)}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function runGatewayBenchmark({
  rounds = Number(process.env.BENCH_ROUNDS ?? 2),
  seconds = Number(process.env.BENCH_SECONDS ?? 10),
  report = REPORT,
  cpuProfileDir = process.env.BENCH_GATEWAY_CPU_PROF,
} = {}) {
  const version = requireWrkAndBuild();
  const { adminKey, upstreamKey, settings: common } = gatewaySettings();
  const settings = { ...common, LOG_LEVEL: 'warn' };

  const ticksPerSecond = clockTicksPerSecond();
  const scratch = mkdtempSync(path.join(tmpdir(), 'inference-api-bench-gateway-'));
  const build = snapshotBuild();
  let fake = null;
  let gateway = null;

  // Sends SIGTERM to both processes and removes the temp files before its first await, so that
  // even a caller that exits right after (run.mjs's own SIGINT handler) leaves nothing behind.
  let cleaned = null;
  const cleanup = () => {
    cleaned ??= Promise.allSettled([gateway?.stop(), fake?.stop()]).then(() => undefined);
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

  // Per round, in this order: direct and through the gateway under load, then one request at a
  // time, which shows what a lone request gains without waiting behind other requests.
  const single = { ...ONE_AT_A_TIME, seconds: Math.max(1, Math.round(seconds / 2)) };
  const scenarios = [
    {
      id: 'direct',
      target: 'fake',
      label: 'Direct to the fake',
      stream: false,
      ...LOADED,
      seconds,
    },
    {
      id: 'gateway',
      target: 'gateway',
      label: 'Through the gateway',
      stream: false,
      ...LOADED,
      seconds,
    },
    { id: 'direct-1', target: 'fake', label: 'Direct to the fake', stream: false, ...single },
    {
      id: 'direct-stream-1',
      target: 'fake',
      label: 'Direct to the fake, streaming (as the gateway asks it)',
      stream: true,
      ...single,
    },
    { id: 'gateway-1', target: 'gateway', label: 'Through the gateway', stream: false, ...single },
  ];
  let luaScript = '';
  const startedAt = Date.now();
  const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(0)} s`;
  try {
    const scripts = {
      plain: writePostScript(scratch, 'post', REQUEST),
      stream: writePostScript(scratch, 'post-stream', STREAMING_REQUEST),
    };
    luaScript = readFileSync(scripts.plain, 'utf8');
    fake = await startFakeUpstream({ apiKey: upstreamKey });
    gateway = await startServer({
      entry: cpuProfileDir ? PROFILE_ENTRY : build.entry,
      env: {
        ...settings,
        OPENAI_BASE_URL: fake.url,
        ...(cpuProfileDir
          ? { BENCH_PROFILE_ENTRY: build.entry, BENCH_PROFILE_DIR: path.resolve(cpuProfileDir) }
          : {}),
      },
    });
    console.log(`gateway bench: fake upstream and gateway up after ${elapsed()}`);
    const targets = {
      fake: { url: `${fake.url}/chat/completions`, key: upstreamKey },
      gateway: { url: `${gateway.baseUrl}/v1/chat/completions`, key: adminKey },
    };
    for (const { url, key } of Object.values(targets)) await checkOnce(url, `Bearer ${key}`);
    for (const scenario of scenarios) {
      const { url, key } = targets[scenario.target];
      Object.assign(scenario, {
        url,
        headers: { Authorization: `Bearer ${key}` },
        script: scenario.stream ? scripts.stream : scripts.plain,
        rounds: [],
      });
    }

    for (let round = 1; round <= rounds; round += 1) {
      for (const scenario of scenarios) {
        await runWrkPost({ ...scenario, seconds: scenario.warmupSeconds });
        const before = { gateway: cpuTicks(gateway.pid), fake: cpuTicks(fake.pid) };
        const result = await runWrkPost(scenario);
        const after = { gateway: cpuTicks(gateway.pid), fake: cpuTicks(fake.pid) };
        const us = (ticks) => (ticks * 1e6) / ticksPerSecond / result.requests;
        const measured = {
          ...result,
          upstreamCpuUs: us(after.fake - before.fake),
          ...(scenario.target === 'gateway'
            ? { gatewayCpuUs: us(after.gateway - before.gateway) }
            : {}),
        };
        scenario.rounds.push(measured);
        console.log(
          `gateway bench round ${round} ${scenario.id} (-c${scenario.connections}): ` +
            `${measured.requestsPerSecond.toFixed(0)} req/s, p50 ${measured.p50Ms} ms, p99 ${measured.p99Ms} ms, ` +
            (measured.gatewayCpuUs === undefined
              ? ''
              : `gateway ${measured.gatewayCpuUs.toFixed(1)} µs CPU/request, `) +
            `fake ${measured.upstreamCpuUs.toFixed(1)} µs CPU/request` +
            (measured.socketErrors ? ` (socket errors:${measured.socketErrors})` : '') +
            ` [${elapsed()}]`,
        );
      }
    }
  } finally {
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }

  if (cpuProfileDir) {
    console.log(`gateway CPU profile written to ${cpuProfileDir}; no report written`);
    return;
  }
  const wrkCommand = (target, key, connections, runSeconds) =>
    [
      'wrk',
      ...wrkPostArgs({
        url: `http://127.0.0.1:<${target} port>/v1/chat/completions`,
        script: 'post.lua',
        headers: { Authorization: `Bearer <${key}>` },
        seconds: runSeconds,
        connections,
      }),
    ]
      .map((arg) => (/[\s<>]/.test(arg) ? `'${arg}'` : arg))
      .join(' ');
  writeSection(
    report,
    'gateway',
    renderGatewaySection({
      scenarios,
      machine: describeMachine(version),
      command: 'npm run bench',
      wrkCommands: [
        wrkCommand('gateway', 'ADMIN_API_KEY', LOADED.connections, seconds),
        wrkCommand('fake', 'OPENAI_API_KEY', LOADED.connections, seconds),
        wrkCommand('gateway', 'ADMIN_API_KEY', single.connections, single.seconds),
        wrkCommand('fake', 'OPENAI_API_KEY', single.connections, single.seconds),
      ],
      luaScript,
      settings: Object.entries({ ...settings, OPENAI_BASE_URL: '<fake>/v1' })
        .map(([name, value]) =>
          name.endsWith('_KEY') ? `\`${name}=<random>\`` : `\`${name}=${value}\``,
        )
        .join(', '),
      rounds,
    }),
  );
  console.log(`wrote ${report} (gateway overhead) in ${elapsed()}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runGatewayBenchmark();
}
