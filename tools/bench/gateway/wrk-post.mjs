// wrk with a POST body: the body and method go in a Lua script file, headers on the command line.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseWrkOutput } from '../wrk.mjs';

const run = promisify(execFile);

/** Writes `<dir>/<name>.lua`, which makes every wrk request a JSON POST of `body`; returns its path. */
export function writePostScript(dir, name, body) {
  const json = JSON.stringify(body);
  // A Lua long string: nothing inside is an escape; pick a level whose closing bracket is absent.
  let level = '';
  while (json.includes(`]${level}]`)) level += '=';
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(
    file,
    [
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "application/json"',
      `wrk.body = [${level}[${json}]${level}]`,
      '',
    ].join('\n'),
  );
  return file;
}

/** The wrk command line, as run and as shown in the report. */
export function wrkPostArgs({ url, script, headers = {}, seconds, connections }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  return [...args, url];
}

/** One wrk run; fails when any response was not 2xx (an error answer costs less than a reply). */
export async function runWrkPost(options) {
  const { stdout } = await run('wrk', wrkPostArgs(options), {
    timeout: (options.seconds + 30) * 1000,
  });
  const result = parseWrkOutput(stdout);
  if (result.non2xx > 0) {
    throw new Error(
      `${result.non2xx} of ${result.requests} responses were not 2xx for ${options.url}`,
    );
  }
  return result;
}
