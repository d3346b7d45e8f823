import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaissIndex, setFaissThreads } from '../search-cluster/src/faiss/faiss-index.ts';
import { annData, recallAtK, sequentialIds } from '../search-cluster/src/faiss/synthetic.ts';
import { searchRescored, VectorFile, writeVectorFile } from '../search-cluster/src/faiss/vector-file.ts';
const N = 100000, DIM = 512, NQ = 300, K = 10;
const { base, querySets } = annData({ count: N, queries: NQ, dimension: DIM, clusters: N / 20 });
const ids = sequentialIds(N);
setFaissThreads(2);
const flat = FaissIndex.create(DIM, 'Flat'); await flat.add(base, ids);
const truth = { image: (await flat.search(querySets.image, K)).ids, text: (await flat.search(querySets.text, K)).ids };
flat.close();
const dir = await mkdtemp(join(tmpdir(), 'fsx-')); const vp = join(dir, 'v.bin');
await writeVectorFile(vp, DIM, base, ids); const vf = VectorFile.open(vp);
for (const factory of (process.argv[2] ?? 'IVF512,PQ64x4fs').split(';')) {
  setFaissThreads(2);
  let t = performance.now();
  const index = FaissIndex.create(DIM, factory);
  if (!index.isTrained) await index.train(base.subarray(0, 40000 * DIM));
  await index.add(base, ids);
  console.log(factory, 'build', ((performance.now() - t) / 1000).toFixed(1), 's', (index.memoryBytes / N).toFixed(1), 'B/v load', loadavg()[0].toFixed(1));
  setFaissThreads(1);
  for (const set of ['image', 'text'] as const) {
    for (const nprobe of (process.argv[3] ?? '16,32,64,128').split(',').map(Number)) {
      for (const candidates of (process.argv[4] ?? '100,200').split(',').map(Number)) {
        const opts = factory.startsWith('HNSW') ? { efSearch: nprobe, candidates: Math.max(K, Math.min(nprobe, candidates)) } : { nprobe, candidates };
        const found = new BigInt64Array(NQ * K);
        let best = Infinity;
        for (let rep = 0; rep < 2; rep++) {
          t = performance.now();
          for (let q = 0; q < NQ; q++) {
            const r = await searchRescored(index, vf, querySets[set].subarray(q * DIM, (q + 1) * DIM), K, opts);
            found.set(r.ids, q * K);
          }
          best = Math.min(best, performance.now() - t);
        }
        console.log(`  ${set} p=${nprobe} c=${candidates}: recall ${recallAtK(truth[set], found, K).toFixed(3)} qps ${(NQ / best * 1000).toFixed(0)}`);
      }
    }
  }
  index.close();
}
