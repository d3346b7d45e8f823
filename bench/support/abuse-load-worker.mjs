// A closed-loop HTTP client for bench/abuse.ts, in its own thread so the client's work does not
// queue on the event loop of the server under test. `documents` are sent round-robin, each a
// ready request ({ body, headers }); legitimate lanes record latency, attacker lanes statuses.
// Plain JavaScript: a worker thread does not inherit tsx's loader on every Node version.
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ url: string; seconds: number; concurrency: number; documents: { body: string; headers: Record<string, string> }[]; expectData: boolean }} */
const { url, seconds, concurrency, documents, expectData } = workerData;
const ms = [];
const statuses = {};
let errors = 0;
let firstError = null;
let next = 0;
const until = performance.now() + seconds * 1000;

async function one(document) {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: document.headers, body: document.body });
    const text = await response.text();
    const elapsed = performance.now() - started;
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    if (expectData) {
      const body = JSON.parse(text);
      if (body.errors || !body.data) {
        errors++;
        firstError ??= body.errors?.[0]?.message ?? 'no data';
        return;
      }
    }
    ms.push(elapsed);
  } catch (error) {
    errors++;
    firstError ??= String(error);
  }
}

await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) await one(documents[next++ % documents.length]);
  }),
);
parentPort.postMessage({ ms, statuses, errors, firstError });
