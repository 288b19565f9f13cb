// Runs the server entry BENCH_PROFILE_ENTRY under the V8 CPU profiler and writes a .cpuprofile
// (BENCH_PROFILE_NAME-<pid>, default gateway-<pid>) into BENCH_PROFILE_DIR when the process exits
// (Node 20 refuses --cpu-prof in NODE_OPTIONS, and the bench helper starts the server as
// `node <entry>`). Open the file in Chrome DevTools.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const entry = process.env.BENCH_PROFILE_ENTRY;
const dir = process.env.BENCH_PROFILE_DIR;
const name = process.env.BENCH_PROFILE_NAME || 'gateway';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 100 });
session.post('Profiler.start');
process.on('exit', () => {
  // An in-process session answers synchronously, so this completes inside the exit handler.
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    const file = path.join(dir, `${name}-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(result.profile));
  });
});
await import(pathToFileURL(entry).href);
