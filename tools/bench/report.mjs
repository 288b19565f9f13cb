// Machine description and the markdown section written into docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { table } from './markdown.mjs';

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function firstMatch(file, pattern) {
  try {
    return pattern.exec(readFileSync(file, 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function describeMachine(wrkVersion) {
  return {
    cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    cpuModel: firstMatch('/proc/cpuinfo', /^model name\s*:\s*(.+)$/m),
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    os: `${firstMatch('/etc/os-release', /^PRETTY_NAME="?([^"\n]+)"?$/m)}, Linux ${os.release()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    wrk: wrkVersion,
  };
}

const fixed = (value, digits) => value.toFixed(digits);
const spread = (scenario) => {
  const cpu = scenario.rounds.map((r) => r.cpuUs);
  return Math.max(...cpu) - Math.min(...cpu);
};
const signed = (value, digits) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;

/**
 * scenarios: [{ id, label, route, rounds: [{ requestsPerSecond, p50Ms, p99Ms, cpuUs, redisCpuUs? }] }]
 */
export function renderSection({ scenarios, machine, command, wrkCommand, rounds, seconds }) {
  const summary = Object.fromEntries(
    scenarios.map((s) => [
      s.id,
      {
        ...s,
        rps: median(s.rounds.map((r) => r.requestsPerSecond)),
        p50: median(s.rounds.map((r) => r.p50Ms)),
        p99: median(s.rounds.map((r) => r.p99Ms)),
        cpu: median(s.rounds.map((r) => r.cpuUs)),
      },
    ]),
  );
  const rows = Object.values(summary).map((s) => [
    `${s.id}: ${s.label}`,
    `\`${s.route}\``,
    fixed(s.rps, 0),
    `${fixed(s.p50, 2)} ms`,
    `${fixed(s.p99, 2)} ms`,
    fixed(s.cpu, 1),
    s.rounds.map((r) => fixed(r.cpuUs, 1)).join(', '),
  ]);
  const header = ['Scenario', 'Route', 'Requests/s', 'p50', 'p99', 'CPU µs/request', 'per round'];
  const base = summary.B;
  const cost = (id, what) => {
    const s = summary[id];
    if (!s || !base) return null;
    const delta = s.cpu - base.cpu;
    const noise = Math.max(spread(s), spread(base));
    const verdict =
      s.rounds.length > 1 && Math.abs(delta) <= noise
        ? ` Within the round-to-round spread (${fixed(noise, 1)} µs), so not told apart from zero in this run.`
        : '';
    return `- **${what}** (${id} − B): ${signed(delta, 1)} µs of server CPU per request (${signed((100 * delta) / base.cpu, 1)} % of B).${verdict}`;
  };
  const redisCpu = summary.C?.rounds.every((r) => r.redisCpuUs !== undefined)
    ? ` Redis itself spent another ${fixed(median(summary.C.rounds.map((r) => r.redisCpuUs)), 1)} µs per request (redis-server's own CPU, not included above; it counts any other client of that Redis too).`
    : '';
  const derived = [
    cost('A', 'Limiter, in-process memory store'),
    summary.C
      ? `${cost('C', 'Limiter, Redis store')}${redisCpu}`
      : '- Limiter, Redis store: not measured (no Redis at 127.0.0.1:6379).',
    summary.H && base
      ? `- **Authentication and the route** (B − H): ${signed(base.cpu - summary.H.cpu, 1)} µs per request: the API key lookup in the embedded database plus listing models, over the bare \`/healthz\` route.`
      : null,
  ].filter(Boolean);
  const m = machine;
  return `## Rate limiter

What the request rate limiter costs per authenticated request: the same build, started once per
scenario with a fresh data directory, limits set far above the load (100000000 requests and tokens
per minute) so no request is refused, the limiter only counts.

${table(header, rows, ['l', 'l', 'r', 'r', 'r', 'r', 'l'])}

Medians of ${rounds} rounds run in the order ${scenarios
    .filter((s) => s.id !== 'H')
    .map((s) => s.id)
    .join(' ')}, repeated; H (\`/healthz\`, no authentication, no limiter) runs on B's server
in each round. Each measured run is ${seconds} s after a 3 s warm-up that is discarded.

${derived.join('\n')}

**How to read it.** On this shared ${m.cpus}-core machine wrk runs beside the server, so requests/s
and latency swing by tens of percent between runs; compare scenarios within one run, never
against another run's numbers. CPU µs/request (the server process's utime + stime from
\`/proc/<pid>/stat\` around the measured run, divided by the requests wrk completed) is the
steady figure: it is what each request costs the server, whatever else the machine is doing.
The per-round column shows how much it moves.

Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpuModel}, ${m.memoryGiB} GiB memory, Node ${m.node},
${m.os}, ${m.wrk}. Run ${m.date}.

Command: \`${command}\`, which for each scenario runs

\`\`\`sh
${wrkCommand}
\`\`\``;
}
