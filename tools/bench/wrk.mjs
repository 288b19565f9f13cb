// Runs wrk and reads requests/s, latency percentiles and the request count from its output.
import { spawnSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** wrk's version line, or null when wrk is not installed. */
export function wrkVersion() {
  const result = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (result.error) return null;
  const line = `${result.stdout}${result.stderr}`.split('\n')[0] ?? '';
  return line.replace(/\s*Copyright.*$/, '').trim() || 'wrk (unknown version)';
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text) {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk duration: ${text}`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

export function parseWrkOutput(output) {
  const number = (pattern) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`unexpected wrk output (no ${pattern}):\n${output}`);
    return match[1];
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const errors = /Socket errors:(.*)/.exec(output);
  return {
    requests: Number(number(/(\d+) requests in /)),
    requestsPerSecond: Number(number(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: durationMs(number(/^\s+50%\s+(\S+)/m)),
    p99Ms: durationMs(number(/^\s+99%\s+(\S+)/m)),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: errors ? errors[1].trim() : null,
  };
}

/** One wrk run; fails when any response was not 2xx, since a refused request costs less. */
export async function runWrk({ url, headers = {}, seconds, connections = 32 }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const { stdout } = await run('wrk', [...args, url], { timeout: (seconds + 30) * 1000 });
  const result = parseWrkOutput(stdout);
  if (result.non2xx > 0) {
    throw new Error(`${result.non2xx} of ${result.requests} responses were not 2xx for ${url}`);
  }
  return result;
}
