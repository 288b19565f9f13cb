// The "Gateway overhead" section of docs/benchmarks.md, between its own marker comments.
import { table } from '../markdown.mjs';
import { median } from '../report.mjs';

const fixed = (value, digits) => value.toFixed(digits);
const signed = (value, digits) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;
const list = (values, digits) => values.map((v) => fixed(v, digits)).join(', ');

function summarize(scenario) {
  const of = (field) => scenario.rounds.map((r) => r[field]);
  const hasGateway = scenario.rounds.every((r) => r.gatewayCpuUs !== undefined);
  return {
    ...scenario,
    rps: median(of('requestsPerSecond')),
    p50: median(of('p50Ms')),
    p99: median(of('p99Ms')),
    upstreamCpu: median(of('upstreamCpuUs')),
    gatewayCpu: hasGateway ? median(of('gatewayCpuUs')) : null,
  };
}

/** `gateway − direct` for one field, per round. */
function addedPerRound(gateway, direct, field) {
  return gateway.rounds.map((r, i) => r[field] - direct.rounds[i][field]);
}

function addedLatency(gateway, direct) {
  return (
    `p50 ${signed(gateway.p50 - direct.p50, 2)} ms, p99 ${signed(gateway.p99 - direct.p99, 2)} ms ` +
    `(per round p50 ${list(addedPerRound(gateway, direct, 'p50Ms'), 2)} ms; ` +
    `p99 ${list(addedPerRound(gateway, direct, 'p99Ms'), 2)} ms)`
  );
}

/**
 * scenarios: [{ id, label, connections, warmupSeconds, seconds,
 *   rounds: [{ requestsPerSecond, p50Ms, p99Ms, upstreamCpuUs, gatewayCpuUs? }] }]
 * with ids `direct` and `gateway` (under load), `direct-1`, `direct-stream-1` and `gateway-1`
 * (one connection).
 */
export function renderGatewaySection({
  scenarios,
  machine,
  command,
  wrkCommands,
  luaScript,
  settings,
  rounds,
}) {
  const s = Object.fromEntries(scenarios.map((scenario) => [scenario.id, summarize(scenario)]));
  const { direct, gateway } = s;
  const alone = { direct: s['direct-1'], stream: s['direct-stream-1'], gateway: s['gateway-1'] };
  const rows = Object.values(s).map((x) => [
    x.label,
    String(x.connections),
    fixed(x.rps, 0),
    `${fixed(x.p50, 2)} ms`,
    `${fixed(x.p99, 2)} ms`,
    x.gatewayCpu === null ? '—' : fixed(x.gatewayCpu, 1),
    fixed(x.upstreamCpu, 1),
  ]);
  const header = [
    'Path',
    'Connections',
    'Requests/s',
    'p50',
    'p99',
    'Gateway CPU µs/request',
    'Upstream CPU µs/request',
  ];
  const m = machine;
  const coreShare = (gateway.rps * gateway.gatewayCpu) / 1e4; // % of one core
  const gatewayShare = (100 * gateway.gatewayCpu) / (gateway.gatewayCpu + gateway.upstreamCpu);
  const queued = (1000 * direct.connections) / gateway.rps; // ms per request, by Little's law
  const busy = `the gateway process used ${fixed(coreShare, 0)} % of a core (requests/s × CPU per request; GC and I/O threads beside the event loop can take it past 100 %)`;
  const saturated =
    coreShare >= 85
      ? ` Here ${busy}: it was CPU-bound, and with ${direct.connections} requests in flight each took about ${fixed(queued, 1)} ms (${direct.connections} ÷ requests/s) against ${fixed(alone.gateway.p50, 2)} ms alone, so most of this is waiting behind the other requests in the gateway's one event loop.`
      : ` Here ${busy}.`;
  const streamNote = alone.stream
    ? ` Of that, ${signed(alone.stream.p50 - alone.direct.p50, 2)} ms at p50 is the upstream's: the gateway always asks its upstream for a stream with a usage chunk (and assembles a non-streaming reply itself), and the fake answering that way directly is the streaming row.`
    : '';
  const timing = (x) =>
    `${x.seconds} s of \`wrk -t1 -c${x.connections}\` after a ${x.warmupSeconds} s warm-up`;
  return `## Gateway overhead

What the gateway adds in front of an upstream: one chat completion, sent to the fake OpenAI
upstream (\`test/support/fake-upstreams\`, in its own process) directly, and through the built
gateway to that same fake. The fake answers at once, without delays, so the direct rows are the
floor and everything above them is the gateway.

${table(header, rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r'])}

Medians of ${rounds} round${rounds === 1 ? '' : 's'}; each round runs the rows in the order above, so the paths interleave
in one run on one machine. A ${direct.connections}-connection row is ${timing(direct)}, a
${alone.direct.connections}-connection row ${timing(alone.direct)}; warm-ups are discarded.

- **Added latency under load** (${direct.connections} connections, gateway − direct): ${addedLatency(gateway, direct)}.${saturated}
- **Added latency of a lone request** (1 connection): ${addedLatency(alone.gateway, alone.direct)}.${streamNote}
- **Throughput** at ${direct.connections} connections: ${fixed(gateway.rps, 0)} requests/s through the gateway against ${fixed(direct.rps, 0)} direct (${signed((100 * (gateway.rps - direct.rps)) / direct.rps, 1)} %).
- **Gateway CPU**: ${fixed(gateway.gatewayCpu, 1)} µs per request at ${direct.connections} connections (per round ${list(
    gateway.rounds.map((r) => r.gatewayCpuUs),
    1,
  )}), ${fixed(gatewayShare, 0)} % of what the gateway and the fake spent on a request together; one core serves about ${fixed(1e6 / gateway.gatewayCpu, 0)} such requests/s.

**How to read it.** wrk, the gateway and the fake share the machine's ${m.cpus} cores (and any
other work on it), so requests/s and latency move by tens of percent between runs: compare the
rows of one run, never against another run's numbers. CPU µs/request (utime + stime from
\`/proc/<pid>/stat\` around the measured run, divided by the requests wrk completed) is what a
request costs each process whatever else the machine does; the gateway column counts only the
gateway process, the upstream column only the fake's.

Gateway settings: ${settings}.

Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpuModel}, ${m.memoryGiB} GiB memory, Node ${m.node},
${m.os}, ${m.wrk}. Run ${m.date}.

Command: \`${command}\`, which runs

\`\`\`sh
${wrkCommands.join('\n')}
\`\`\`

with this \`post.lua\` (the streaming row adds \`"stream":true,"stream_options":{"include_usage":true}\`
to the body):

\`\`\`lua
${luaScript.trimEnd()}
\`\`\``;
}
