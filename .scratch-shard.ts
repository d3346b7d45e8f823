import { Shard } from './search-cluster/src/shard/shard.ts';
import { faissFactory } from './search-cluster/src/shard/faiss-factory.ts';
import { MemoryVectorSource } from './search-cluster/src/rebuild/vector-source.ts';
import { unitVectors, idRange, row } from './search-cluster/src/shard/test-vectors.ts';

const d = 32;
const source = new MemoryVectorSource();
const vecs = unitVectors(6000, d, 7, 64);
const ids = idRange(1, 6000);
source.putMany('m1', ids.subarray(0, 5000), vecs.subarray(0, 5000 * d));
const mk = () => new Shard({ factory: faissFactory, source, modelVersions: [{ name: 'm1', dimension: d }], dataDir: '/tmp/scratch/d1', tiers: { mainTier: 'ivfpq' } });
let shard = mk();
let t = performance.now();
await shard.start();
console.log('start', performance.now() - t, JSON.stringify(shard.stats().modelVersions[0]!.main));
source.putMany('m1', ids.subarray(5000), vecs.subarray(5000 * d));
await shard.upsert('m1', ids.subarray(5000), vecs.subarray(5000 * d));
const check = async (label: string) => {
  let miss = 0, fmiss = 0;
  t = performance.now();
  for (let i = 0; i < 6000; i += 3) {
    const [hits] = await shard.search({ modelVersion: 'm1', queries: row(vecs, i, d), k: 5 });
    if (hits![0]?.id !== BigInt(i + 1)) miss++;
  }
  const t1 = performance.now() - t;
  for (let i = 0; i < 6000; i += 3) {
    const [hits] = await shard.search({ modelVersion: 'm1', queries: row(vecs, i, d), k: 5, allowedIds: BigInt64Array.of(BigInt(i + 1), BigInt(i+2)) });
    if (hits![0]?.id !== BigInt(i + 1)) fmiss++;
  }
  console.log(label, 'miss', miss, 'fmiss', fmiss, 'ms/2000q', t1.toFixed(0));
};
await check('before');
source.delete('m1', 5n); await shard.delete('m1', BigInt64Array.of(5n));
source.delete('m1', 5500n); await shard.delete('m1', BigInt64Array.of(5500n));
console.log(await shard.rebuild('m1'));
await check('after rebuild');
source.delete('m1', 7n); await shard.delete('m1', BigInt64Array.of(7n));
source.put('m1', 9999n, row(vecs, 0, d)); await shard.upsert('m1', BigInt64Array.of(9999n), row(vecs, 0, d));
await shard.close();
shard = mk();
t = performance.now();
await shard.start();
console.log('restart', performance.now() - t, source.reads, JSON.stringify(shard.stats().modelVersions[0]));
await check('after restart');
const [h] = await shard.search({ modelVersion: 'm1', queries: row(vecs, 6, d), k: 3 });
console.log(h);
await shard.close();
