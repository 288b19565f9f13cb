// The built-in model through the whole server: time to first token, tokens per second, server
// CPU per token and RSS, with one and two llama.cpp threads per generation, and two generations
// at once. Writes its section of docs/benchmarks.md. Part of `npm run bench`; alone, after
// `npm run build`: `node tools/bench/local-model.mjs`. BENCH_LOCAL_REQUESTS (default 150) per
// scenario.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TextDecoder } from 'node:util';
import { fetch } from 'undici';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { table, writeSection } from './markdown.mjs';
import { clockTicksPerSecond, cpuTicks } from './proc-cpu.mjs';
import { describeMachine } from './report.mjs';
import { snapshotBuild, startServer } from './server.mjs';

const REPORT = 'docs/benchmarks.md';
const PROMPTS = [
  'dog (noun):',
  'run (verb):',
  'happy (adjective):',
  'music (noun):',
  'slowly (adverb):',
];
const SCENARIOS = [
  { id: 'T1', label: '1 thread, 1 context, 1 client', threads: 1, contexts: 1, clients: 1 },
  { id: 'T2', label: '2 threads, 1 context, 1 client', threads: 2, contexts: 1, clients: 1 },
  { id: 'P2', label: '1 thread, 2 contexts, 2 clients', threads: 1, contexts: 2, clients: 2 },
];

const rssMiB = (pid) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

function modelMemoryMiB() {
  const probe = fileURLToPath(new URL('./local-model/memory-probe.mjs', import.meta.url));
  const output = execFileSync(process.execPath, [probe], { encoding: 'utf8' });
  const { before, after } = JSON.parse(output.trim().split('\n').pop());
  return { before, after };
}

/** One streamed completion; times from the request to the first and last text. */
async function streamOnce(baseUrl, auth, prompt, seed) {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'tiny-wordnet',
      prompt,
      max_tokens: 100,
      temperature: 0.8,
      seed,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  let first = 0;
  let last = 0;
  let completionTokens = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, end).replace(/^data: /, '');
      buffer = buffer.slice(end + 2);
      if (event === '[DONE]') continue;
      const data = JSON.parse(event);
      if (data.choices?.[0]?.text) {
        last = performance.now();
        first ||= last;
      }
      if (data.usage) completionTokens = data.usage.completion_tokens;
    }
  }
  return { ttftMs: first - started, generationMs: last - first, completionTokens };
}

async function runScenario(build, scenario, adminKey, requests) {
  const server = await startServer({
    entry: build.entry,
    env: {
      ADMIN_API_KEY: adminKey,
      RATE_LIMIT_ENABLED: 'false',
      RESPONSE_CACHE_TTL_SECONDS: '0',
      LOCAL_MODEL_THREADS: String(scenario.threads),
      LOCAL_MODEL_CONTEXTS: String(scenario.contexts),
    },
  });
  try {
    const auth = `Bearer ${adminKey}`;
    const rssIdle = rssMiB(server.pid);
    for (let i = 0; i < 10; i += 1) await streamOnce(server.baseUrl, auth, PROMPTS[i % 5], i); // warm-up
    const results = [];
    const cpuBefore = cpuTicks(server.pid);
    const wallStarted = performance.now();
    let next = 0;
    let peakRss = rssIdle;
    const client = async () => {
      while (next < requests) {
        const i = next++;
        results.push(await streamOnce(server.baseUrl, auth, PROMPTS[i % 5], 1000 + i));
        peakRss = Math.max(peakRss, rssMiB(server.pid));
      }
    };
    await Promise.all(Array.from({ length: scenario.clients }, client));
    const wallSeconds = (performance.now() - wallStarted) / 1000;
    const cpuSeconds = (cpuTicks(server.pid) - cpuBefore) / clockTicksPerSecond();
    const tokens = results.reduce((sum, r) => sum + r.completionTokens, 0);
    // Per stream: tokens after the first over the time between first and last text.
    const perStream = results
      .filter((r) => r.completionTokens > 1 && r.generationMs > 0)
      .map((r) => ((r.completionTokens - 1) * 1000) / r.generationMs);
    return {
      ...scenario,
      requests,
      meanTokens: tokens / requests,
      ttftMs: median(results.map((r) => r.ttftMs)),
      streamTokensPerSecond: median(perStream),
      totalTokensPerSecond: tokens / wallSeconds,
      cpuMsPer100Tokens: (cpuSeconds * 1000 * 100) / tokens,
      rssIdle,
      peakRss,
    };
  } finally {
    await server.stop();
  }
}

export async function runLocalModelBenchmark({
  requests = Number(process.env.BENCH_LOCAL_REQUESTS ?? 150),
  report = REPORT,
} = {}) {
  if (!existsSync('dist/src/main.js')) throw new Error('dist/src/main.js is missing: build first');
  const adminKey = `bench_${randomBytes(17).toString('hex')}`;
  const build = snapshotBuild();
  const results = [];
  try {
    for (const scenario of SCENARIOS) {
      console.log(`local model: ${scenario.label}`);
      results.push(await runScenario(build, scenario, adminKey, requests));
    }
  } finally {
    build.remove();
  }
  const memory = modelMemoryMiB();
  const machine = describeMachine(null);
  const [one, two] = results;
  const rows = results.map((r) => [
    r.id,
    r.label,
    r.ttftMs.toFixed(1),
    r.streamTokensPerSecond.toFixed(0),
    r.totalTokensPerSecond.toFixed(0),
    r.cpuMsPer100Tokens.toFixed(1),
    r.meanTokens.toFixed(1),
    `${r.rssIdle.toFixed(0)} / ${r.peakRss.toFixed(0)}`,
  ]);
  const section = [
    '## Built-in model (tiny-wordnet, llama.cpp)',
    '',
    `Measured ${machine.date} on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node.js ${machine.node}; \`npm run bench\` (\`tools/bench/local-model.mjs\`). Each scenario: a fresh server (\`RATE_LIMIT_ENABLED=false\`, \`RESPONSE_CACHE_TTL_SECONDS=0\`), 10 warm-up requests, then ${requests} streamed completions (\`max_tokens: 100\`, \`temperature: 0.8\`, a different \`seed\` each, five dictionary-style prompts) through HTTP, SSE and the openai-format layer. The model usually ends an entry on its own, so replies are short (mean tokens below).`,
    '',
    table(
      [
        '',
        'scenario',
        'TTFT p50 ms',
        'tokens/s per stream p50',
        'tokens/s total',
        'server CPU ms / 100 tokens',
        'mean tokens',
        'RSS MiB idle / peak',
      ],
      rows,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `- **Threads**: one thread per generation streams at ${one.streamTokensPerSecond.toFixed(0)} tokens/s against ${two.streamTokensPerSecond.toFixed(0)} with two (${((two.streamTokensPerSecond / one.streamTokensPerSecond - 1) * 100).toFixed(0)} %), for ${one.cpuMsPer100Tokens.toFixed(1)} against ${two.cpuMsPer100Tokens.toFixed(1)} ms of CPU per 100 tokens: a model this small gains nothing from splitting each token's work, and the second thread's synchronisation costs. Hence \`LOCAL_MODEL_THREADS=1\` and, on 2 cores, \`LOCAL_MODEL_CONTEXTS=2\` (P2): two generations in parallel.`,
    '- TTFT is from sending the request to the first text event: authentication, validation, the prompt evaluated by llama.cpp and the first token. Tokens per second per stream counts the tokens after the first over the time from the first to the last text event.',
    `- RSS is the whole server process: Node.js, Fastify, the embedded PostgreSQL (PGlite, most of it) and the model. The model's own share, measured in a bare Node.js process: ${memory.before.toFixed(0)} MiB before, ${memory.after.toFixed(0)} MiB after loading llama.cpp, the 3.7 MB GGUF and two contexts (+${(memory.after - memory.before).toFixed(0)} MiB).`,
  ].join('\n');
  writeSection(report, 'local-model', section);
  console.log(`wrote ${report} (local model)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runLocalModelBenchmark();
}
