// The fake OpenAI upstream of test/support, alone in its own process so that its CPU time is not
// counted as the gateway's. Run as `node --import tsx tools/bench/gateway/fake-upstream.mjs <key>`;
// prints `url=<base URL>` (ending in /v1) once listening, and closes on SIGTERM or SIGINT.
import { clearInterval, setInterval } from 'node:timers';
import { startFakeOpenAI } from '../../../test/support/fake-upstreams/index.ts';

const apiKey = process.argv[2];
if (!apiKey) {
  console.error('usage: node --import tsx fake-upstream.mjs <api key>');
  process.exit(2);
}

const fake = await startFakeOpenAI({ apiKey });
// The fake records every request for tests to inspect; a benchmark sends hundreds of thousands,
// so forget them often, or the growing list (and the GC work on it) would slow the fake down.
const forget = setInterval(() => fake.reset(), 1000);

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  clearInterval(forget);
  await fake.close();
  process.exit(0);
}
process.once('SIGTERM', close);
process.once('SIGINT', close);

console.log(`url=${fake.url}`);
