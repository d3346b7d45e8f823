// The load generator of bench/search.ts, in its own thread so that the client's fetch and JSON
// work does not queue on the event loop of the server under test (same process, same 2 cores).
// Plain JavaScript: a worker thread does not inherit tsx's loader on every Node version.
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ url: string; query: string; variables: Record<string, unknown>[]; total: number; concurrency: number; limit: number }} */
const { url, query, variables, total, concurrency, limit } = workerData;
const ms = [];
let errors = 0;
let shortPages = 0;
let firstError = null;
let next = 0;

async function one(i) {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables: variables[i % variables.length] }),
    });
    const body = await response.json();
    const elapsed = performance.now() - started;
    if (body.errors || !body.data) {
      errors++;
      firstError ??= body.errors?.[0]?.message ?? 'no data';
      return;
    }
    if (body.data.search.hits.length < limit) shortPages++;
    ms.push(elapsed);
  } catch (error) {
    errors++;
    firstError ??= String(error);
  }
}

const started = performance.now();
await Promise.all(
  Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) await one(next++);
  }),
);
parentPort.postMessage({ ms, errors, shortPages, firstError, seconds: (performance.now() - started) / 1000 });
