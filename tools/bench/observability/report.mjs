// The "Observability overhead" section of docs/benchmarks.md, between its own marker comments.
import { table } from '../markdown.mjs';
import { median } from '../report.mjs';

const GOAL_PERCENT = 5;
const fixed = (value, digits) => value.toFixed(digits);
const signed = (value, digits) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;
const percent = (value, base) => (100 * (value - base)) / base;
const list = (values, digits) => values.map((v) => fixed(v, digits)).join(', ');

function summarize(scenario) {
  const of = (field) => scenario.rounds.map((r) => r[field]);
  return {
    ...scenario,
    rps: median(of('requestsPerSecond')),
    p50: median(of('p50Ms')),
    p99: median(of('p99Ms')),
    cpu: median(of('cpuUs')),
  };
}

/**
 * `on` against `off` for one route. Other work on the machine only ever adds CPU time to a request
 * and takes requests/s away, so each configuration's least disturbed round (lowest CPU µs/request,
 * highest requests/s) is the estimate; the medians are shown beside it.
 */
function compare(route, s) {
  const [off, metrics, on] = ['off', 'metrics', 'on'].map((id) => s[`${route.id}-${id}`]);
  const cpu = (x) => Math.min(...x.rounds.map((r) => r.cpuUs));
  const rps = (x) => Math.max(...x.rounds.map((r) => r.requestsPerSecond));
  const throughput = percent(rps(on), rps(off));
  // What a CPU-bound server loses: it serves off/on of the requests it served before.
  const capacity = 100 * (1 - cpu(off) / cpu(on));
  const within = capacity <= GOAL_PERCENT && throughput >= -GOAL_PERCENT;
  return (
    `- **\`${route.method} ${route.path}\`**: metrics and tracing add ` +
    `${signed(cpu(on) - cpu(off), 1)} µs of server CPU per request (${signed(percent(cpu(on), cpu(off)), 1)} %; ` +
    `lowest round of each: off ${fixed(cpu(off), 1)}, metrics only ${fixed(cpu(metrics), 1)}, ` +
    `both ${fixed(cpu(on), 1)} µs), of which metrics ${signed(cpu(metrics) - cpu(off), 1)} µs and ` +
    `tracing ${signed(cpu(on) - cpu(metrics), 1)} µs: a CPU-bound server serves ` +
    `${fixed(capacity, 1)} % fewer requests/s. Requests/s: ${signed(throughput, 1)} % ` +
    `(best round of each; medians ${signed(percent(on.rps, off.rps), 1)} %). ` +
    `**${within ? 'Within' : 'Above'} the ${GOAL_PERCENT} % goal.**`
  );
}

function exportLine(round, index) {
  const sent = round.routes.reduce((total, r) => total + r.sent, 0);
  const perRoute = round.routes
    .map((r) => `${r.serverSpans} \`${r.serverSpan}\` server spans for ${r.sent} requests sent`)
    .join(', ');
  return (
    `- Round ${index + 1}: ${round.spans} spans in ${round.posts} OTLP/HTTP exports ` +
    `(${fixed(round.bytes / 1e6, 1)} MB of JSON; ${fixed(round.spans / sent, 1)} spans and ` +
    `${fixed(round.bytes / sent / 1024, 1)} KiB per request)${round.rejected ? `, ${round.rejected} rejected` : ''}; ${perRoute}.`
  );
}

/**
 * scenarios: [{ id: `<route>-<config>`, route, config, rounds: [{ requestsPerSecond, p50Ms,
 * p99Ms, cpuUs }] }]; exports: per round, what the sink received from the `on` server.
 */
export function renderObservabilitySection({
  scenarios,
  routes,
  configs,
  exports,
  machine,
  command,
  connections,
  warmupSeconds,
  seconds,
  rounds,
  settings,
}) {
  const s = Object.fromEntries(scenarios.map((scenario) => [scenario.id, summarize(scenario)]));
  const onOff = (value) => (value ? 'on' : 'off');
  const rows = routes.flatMap((route) =>
    configs.map((config) => {
      const x = s[`${route.id}-${config.id}`];
      return [
        `\`${route.method} ${route.path}\``,
        onOff(config.metrics),
        onOff(config.tracing),
        fixed(x.rps, 0),
        `${fixed(x.p50, 2)} ms`,
        `${fixed(x.p99, 2)} ms`,
        fixed(x.cpu, 1),
        list(
          x.rounds.map((r) => r.cpuUs),
          1,
        ),
      ];
    }),
  );
  const header = [
    'Route',
    'Metrics',
    'Tracing',
    'Requests/s',
    'p50',
    'p99',
    'CPU µs/request',
    'per round',
  ];
  const comparisons = routes.map((route) => compare(route, s));
  const m = machine;
  return `## Observability overhead

What Prometheus metrics and OpenTelemetry tracing cost per request, on two routes:
\`GET /v1/models\` (authentication with its database lookup, the rate limiter, the route) and a
non-streaming \`POST /v1/chat/completions\` routed to the fake OpenAI upstream of the gateway
benchmark (in its own process). Three configurations of the same build, each started fresh:
\`METRICS_ENABLED=false\` without \`OTEL_EXPORTER_OTLP_ENDPOINT\` (both off), metrics only, and
metrics with tracing, exporting every span (no sampling) over OTLP/HTTP to a small sink in the
benchmark process (\`tools/bench/observability/otlp-sink.mjs\`), which answers like a collector
and counts what it receives.

${table(header, rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'l'])}

Medians of ${rounds} round${rounds === 1 ? '' : 's'}; each round starts the three servers one after the other (in the order
above, reversed in even rounds) and loads both routes on each: ${seconds} s of
\`wrk -t1 -c${connections}\` after a ${warmupSeconds} s warm-up that is discarded.

${comparisons.join('\n')}

Spans the sink received from the metrics-and-tracing server (warm-ups included; it exports what
it still buffers when it stops). A server span per request sent, or a few more (wrk does not count
the requests still in flight when it stops), means no span was dropped:

${exports.map(exportLine).join('\n')}

**How to read it.** wrk, the server, the fake upstream and the sink share the machine's ${m.cpus}
cores (and any other work on it), so requests/s move by tens of percent between runs and even
between rounds: compare the rows of one run. CPU µs/request (the server process's utime + stime
from \`/proc/<pid>/stat\` around the measured run, divided by the requests wrk completed) is the
steadier figure, though a busy neighbour still inflates it (shared caches): hence the
least disturbed round above, and the per-round column to judge the spread. It includes the work
of exporting spans (batching, JSON encoding, the HTTP requests to the sink), not the sink's own.
The capacity figure is what that CPU means for a CPU-bound server: 1 − (CPU off ÷ CPU on). To see
where the time goes, \`BENCH_OBSERVABILITY_CPU_PROF=<dir> node tools/bench/observability.mjs\`
writes each server's V8 CPU profile instead of this section.

Server settings: ${settings}; \`LOG_LEVEL=warn\`.

Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpuModel}, ${m.memoryGiB} GiB memory, Node ${m.node},
${m.os}, ${m.wrk}. Run ${m.date}.

Command: \`${command}\` (or \`node tools/bench/observability.mjs\` after \`npm run build\`), which
runs \`wrk -t1 -c${connections} -d${seconds}s --latency -H 'Authorization: Bearer <key>'\` against
each route, with the gateway benchmark's \`post.lua\` for the chat completion.`;
}
