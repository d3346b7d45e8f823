// The load generator of bench/search.ts, in its own thread so that the client's HTTP and JSON
// work does not queue on the event loop of the server under test (same process, same 2 cores).
// node:http over one keep-alive connection per concurrent client, not fetch: the client shares
// the server's 2 cores, and undici's fetch (web streams, a Response per request) cost 0.7 CPU ms a
// request here, CPU a real client spends on its own machine.
// Plain JavaScript: a worker thread does not inherit tsx's loader on every Node version.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ url: string; query: string; variables: Record<string, unknown>[]; total: number; concurrency: number; limit: number }} */
const { url, query, variables, total, concurrency, limit } = workerData;
const ms = [];
let errors = 0;
let shortPages = 0;
let firstError = null;
let next = 0;

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

/** POSTs `payload` and resolves with the parsed JSON answer (any status: GraphQL errors carry one). */
function post(payload) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (error) {
            reject(new Error(`HTTP ${res.statusCode}: not JSON (${error})`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function one(i) {
  const started = performance.now();
  try {
    const body = await post(JSON.stringify({ query, variables: variables[i % variables.length] }));
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
agent.destroy();
parentPort.postMessage({ ms, errors, shortPages, firstError, seconds: (performance.now() - started) / 1000 });
