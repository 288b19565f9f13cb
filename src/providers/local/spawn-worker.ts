import { Worker } from 'node:worker_threads';

/**
 * Starts a model worker from the file next to this one. Compiled, this module is
 * dist/src/providers/local/spawn-worker.js and the worker is the plain JavaScript beside it.
 * Run from the TypeScript sources (vitest, tsx), this module is a .ts file and so is the worker,
 * which then needs tsx inside the worker thread. Node 20 ignores module hooks passed to a worker
 * through execArgv (`--import tsx`, nodejs/node#47747), so a two-line bootstrap registers tsx
 * in the worker first and then imports worker.ts.
 */
export function spawnModelWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url));
  const tsxApi = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const worker = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  const bootstrap = `import(${tsxApi}).then(({ register }) => { register(); return import(${worker}); });`;
  return new Worker(bootstrap, { eval: true });
}
