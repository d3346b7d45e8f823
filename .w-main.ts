import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const t0 = performance.now();
const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
console.log(tsxApi);
const target = new URL('./.w-worker.ts', import.meta.url).href;
const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`;
const w = new Worker(code, { eval: true });
w.on('message', (m) => {
  console.log('got', m, performance.now() - t0);
  w.terminate();
});
w.on('error', (e) => console.log('err', e));
