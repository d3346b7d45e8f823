// One search thread of a peer library (hnswlib-node or usearch) for bench/ann.ts. Both search
// synchronously, so each benchmark thread is a worker holding its own copy (hnswlib) or memory
// map (usearch) of the saved index. Messages: { type: 'run', ef, set } -> { latencies, ids }.
import { parentPort, workerData } from 'node:worker_threads';
import hnswlib from 'hnswlib-node';
import { Index, MetricKind, ScalarKind } from 'usearch';

const { library, path, dimension, connectivity, efConstruction, k, worker, workers, querySets } = workerData;

let hnsw;
if (library === 'hnswlib') {
  hnsw = new hnswlib.HierarchicalNSW('ip', dimension);
  hnsw.readIndexSync(path);
}

// hnswlib takes plain arrays; converting before the clock starts measures only the search.
const sets = {};
for (const [name, buffer] of Object.entries(querySets)) {
  const all = new Float32Array(buffer);
  const mine = [];
  for (let q = worker; q < all.length / dimension; q += workers) {
    const row = all.subarray(q * dimension, (q + 1) * dimension);
    mine.push({ q, vector: library === 'hnswlib' ? Array.from(row) : row });
  }
  sets[name] = mine;
}

function usearchIndex(ef) {
  const index = new Index({
    dimensions: dimension,
    metric: MetricKind.IP,
    quantization: ScalarKind.F32,
    connectivity,
    expansion_add: efConstruction,
    expansion_search: ef,
    multi: false,
  });
  index.view(path);
  return index;
}

let prepared;
parentPort.on('message', (message) => {
  if (message.type === 'exit') process.exit(0);
  if (message.type === 'run') {
    const { ef, set, limit } = message;
    let search;
    if (library === 'hnswlib') {
      hnsw.setEf(ef);
      search = (vector) => hnsw.searchKnn(vector, k).neighbors.map(BigInt);
    } else {
      const index = usearchIndex(ef);
      search = (vector) => Array.from(index.search(vector, k, 1).keys, (key) => BigInt.asIntN(64, key));
    }
    prepared = { queries: limit ? sets[set].slice(0, limit) : sets[set], search };
    parentPort.postMessage({ type: 'ready' });
    return;
  }
  // 'go': every worker starts at once, so the wall clock covers both threads working.
  const { queries, search } = prepared;
  const latencies = new Float64Array(queries.length);
  const ids = new BigInt64Array(queries.length * k);
  const rows = new Int32Array(queries.length);
  for (let i = 0; i < queries.length; i++) {
    const started = performance.now();
    const found = search(queries[i].vector);
    latencies[i] = performance.now() - started;
    rows[i] = queries[i].q;
    for (let j = 0; j < k; j++) ids[i * k + j] = found[j] ?? -1n;
  }
  parentPort.postMessage({ type: 'done', latencies, ids, rows });
});
parentPort.postMessage({ type: 'loaded' });
