import { parseArgs } from 'node:util';
import { numberList, syntheticDataFlags, syntheticDataSettings } from '../support/flags.ts';

/** Our index families besides Flat that a run can build. */
const FAMILY_NAMES = ['hnsw', 'ivfpq', 'fastscan', 'sq8'];

export type AnnSettings = ReturnType<typeof annSettings>;

/** The command line of bench/ann.ts, with every default and derived size filled in. */
export function annSettings() {
  const { values: flags } = parseArgs({
    options: {
      ...syntheticDataFlags({ n: '1000000', dim: '512' }),
      spread: { type: 'string', default: '1' },
      'text-shift': { type: 'string', default: '1.5' },
      /** Coarser levels of data centres, coarsest last (`5120,64`: the clusters drawn around 5,120 centres, those around 64); default none. */
      'data-families': { type: 'string', default: '' },
      threads: { type: 'string', default: '1,2' },
      m: { type: 'string', default: '32' },
      'ef-construction': { type: 'string', default: '40' },
      ef: { type: 'string', default: '16,24,32,40,48,64,128' },
      nlist: { type: 'string' },
      pq: { type: 'string', default: '64' },
      nprobe: { type: 'string', default: '8,16,32,64,128,256,512' },
      candidates: { type: 'string', default: '100' },
      /** IVF-PQ fast scan: one index per entry, 4-bit codes of this many sub-quantisers (default dim/8,dim/4: 32 and 64 bytes at 512-d). */
      'fs-pq': { type: 'string' },
      /** IVF-PQ fast scan: inverted lists (default nlist). */
      'fs-nlist': { type: 'string' },
      'fs-nprobe': { type: 'string', default: '16,32,64,128,256' },
      /** HNSW over SQ8 codes: efSearch sweep; the whole candidate queue (efSearch ids) is re-scored. */
      'sq8-ef': { type: 'string', default: '16,24,32,48,64,96,128' },
      /** Which of our index families to build besides Flat: hnsw, ivfpq, fastscan, sq8. */
      families: { type: 'string', default: 'hnsw,ivfpq,fastscan,sq8' },
      'flat-queries': { type: 'string', default: '200' },
      repeats: { type: 'string', default: '3' },
      'skip-peers': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/results' },
    },
  });

  const int = (name: keyof typeof flags) => Number.parseInt(String(flags[name]), 10);
  const list = (name: keyof typeof flags) => numberList(flags[name]);

  const { n, queries, dim, k, seed, clusters: clustersFlag } = syntheticDataSettings(flags);
  const m = int('m');
  const efConstruction = int('ef-construction');
  const nlist = flags.nlist ? int('nlist') : 2 ** Math.round(Math.log2(2 * Math.sqrt(n)));
  const clusters = clustersFlag ?? Math.max(10 * nlist, Math.round(n / 20));
  const pq = int('pq');
  const fastScanPq = flags['fs-pq']
    ? list('fs-pq')
    : [Math.max(1, Math.floor(dim / 8)), Math.max(1, Math.floor(dim / 4))];
  const fastScanNlist = flags['fs-nlist'] ? int('fs-nlist') : nlist;
  const families = new Set(String(flags.families).split(','));
  for (const family of families) {
    if (!FAMILY_NAMES.includes(family))
      throw new Error(`Unknown family ${family} (hnsw, ivfpq, fastscan, sq8)`);
  }
  return {
    n,
    queries,
    dim,
    k,
    seed,
    clusters,
    /** Noise norm relative to the centre, and the text queries' offset: as typed, for the method text. */
    spread: String(flags.spread),
    textShift: String(flags['text-shift']),
    dataFamilies: flags['data-families'] ? list('data-families') : [],
    m,
    efConstruction,
    nlist,
    pq,
    fastScanPq,
    fastScanNlist,
    families,
    candidates: int('candidates'),
    threads: list('threads'),
    flatQueries: Math.min(queries, int('flat-queries')),
    /** Each sweep point runs this many times and keeps the fastest: other work on a shared machine only slows runs down. */
    repeats: int('repeats'),
    /** HNSW efSearch (ef of the peers) sweep. */
    ef: list('ef'),
    nprobe: list('nprobe'),
    fastScanNprobe: list('fs-nprobe'),
    sq8Ef: list('sq8-ef'),
    skipPeers: Boolean(flags['skip-peers']),
    out: String(flags.out),
  };
}
