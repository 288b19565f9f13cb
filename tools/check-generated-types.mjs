#!/usr/bin/env node
// Checks that src/generated/openapi.ts is what `npm run types:generate` produces from
// openapi/openapi.yaml today; exits 1 when it is stale or missing.
//
// To produce the same bytes as the script, it runs the very command of the `types:generate`
// script (the same openapi-typescript CLI, with the same flags and the same working directory),
// only with the output redirected to a temporary file, and compares the two files.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function fail(message) {
  console.error(message);
  process.exit(1);
}

/** The arguments of the `types:generate` script, which must be a plain openapi-typescript call. */
function generateCommand() {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const script = pkg.scripts?.['types:generate'];
  if (typeof script !== 'string' || /["'`$&|;<>\\]/.test(script)) {
    fail('tools/check-generated-types.mjs: the "types:generate" script must be a plain command.');
  }
  const [command, ...args] = script.trim().split(/\s+/);
  const outputFlag = args.findIndex((arg) => arg === '-o' || arg === '--output');
  if (command !== 'openapi-typescript' || outputFlag === -1 || !args[outputFlag + 1]) {
    fail(
      'tools/check-generated-types.mjs: expected "types:generate" to be "openapi-typescript … -o <file>".',
    );
  }
  return { args, outputIndex: outputFlag + 1, output: args[outputFlag + 1] };
}

/** The file npm links as `node_modules/.bin/<name>` for the package of the same name. */
function binPath(name) {
  const manifestPath = require.resolve(`${name}/package.json`);
  const { bin } = JSON.parse(readFileSync(manifestPath, 'utf8'));
  return path.join(path.dirname(manifestPath), typeof bin === 'string' ? bin : bin[name]);
}

const { args, outputIndex, output } = generateCommand();
const committedPath = path.resolve(root, output);
const tempDir = mkdtempSync(path.join(tmpdir(), 'openapi-types-'));
const freshPath = path.join(tempDir, path.basename(output));

let generated;
try {
  const cli = binPath('openapi-typescript');
  const result = spawnSync(process.execPath, [cli, ...args.with(outputIndex, freshPath)], {
    cwd: root,
    encoding: 'utf8',
  });
  generated =
    result.status === 0
      ? { text: readFileSync(freshPath, 'utf8') }
      : { error: `exit ${result.status ?? result.signal}:\n${result.stderr || result.stdout}` };
} finally {
  rmSync(tempDir, { recursive: true, force: true });
}
if (generated.error !== undefined) fail(`openapi-typescript failed (${generated.error})`);
const fresh = generated.text;

let committed;
try {
  committed = readFileSync(committedPath, 'utf8');
} catch {
  fail(`${output} is missing: run npm run types:generate`);
}

// A checkout with CRLF line endings is not stale; any other difference is.
const normalize = (text) => text.replace(/\r\n/g, '\n');
if (normalize(committed) !== normalize(fresh)) {
  const committedLines = normalize(committed).split('\n');
  const freshLines = normalize(fresh).split('\n');
  let line = 0;
  while (committedLines[line] === freshLines[line]) line += 1;
  fail(
    `${output} is stale: run npm run types:generate\n` +
      `(it differs from what openapi/openapi.yaml generates, first at line ${line + 1})`,
  );
}

console.log(`${output} is up to date with openapi/openapi.yaml.`);
