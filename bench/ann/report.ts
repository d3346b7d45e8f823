/**
 * bench/ann.ts's results: the targets of issues 5 and 14 checked against the measured rows, the
 * operating point of each index per query kind, and bench/results/ann.{md,json,svg}.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { faissBuild } from '../../search-cluster/src/faiss/faiss-index.ts';
import { log } from '../support/machine.ts';
import { lineChartSvg, type PlotSeries, stackSvgs } from '../support/svg.ts';

export type QuerySet = 'image' | 'text';
const QUERY_SETS: QuerySet[] = ['image', 'text'];

export interface Row {
  library: string;
  index: string;
  params: string;
  queries: QuerySet;
  threads: number;
  recall: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  /** 1-minute load average when the row finished: other work on the machine skews the numbers. */
  load1: number;
}

export interface Build {
  library: string;
  index: string;
  buildSeconds: number;
  buildThreads: number;
  /** Resident bytes per vector of the index (FAISS's estimate; peers: their saved file, vectors included). */
  bytesPerVector: number;
  note?: string;
}

export interface AnnReportInput {
  command: string;
  outDir: string;
  threads: number[];
  skipPeers: boolean;
  /** Our fp32 HNSW index's name (`HNSW32`): the speed bar of a compressed main tier. */
  hnswIndex: string;
  parameters: Record<string, number | string>;
  /** The "Data:" paragraph: how the vectors and queries were made and how the searches ran. */
  method: string;
  rows: Row[];
  builds: Build[];
}

/** Issue 14 item 2: FAISS at this multiple of each peer's QPS, at recall@10 >= 0.95. */
const PEER_SPEEDUP = 1.3;
/** Issue 14 item 3: the compressed main tier's resident bytes per vector at most this. */
const MAIN_TIER_BYTES = 256;
const RECALL = 0.95;
const PEERS = ['hnswlib-node', 'usearch'];
const OURS = 'pixelfind-faiss';

interface Target {
  target: string;
  met: boolean | null;
  detail: string;
}

export async function writeAnnReport(input: AnnReportInput): Promise<void> {
  const { rows, builds } = input;
  const bytesOf = new Map(builds.map((b) => [`${b.library}|${b.index}`, b.bytesPerVector]));
  const compressed = (row: Row) =>
    row.library === OURS &&
    row.index !== 'Flat' &&
    (bytesOf.get(`${row.library}|${row.index}`) ?? Infinity) <= MAIN_TIER_BYTES;
  const best = (filter: (row: Row) => boolean) =>
    rows.filter((row) => filter(row) && row.recall >= RECALL).sort((a, b) => b.qps - a.qps)[0];
  const describe = (row: Row | undefined) =>
    row
      ? `${row.qps.toFixed(0)} (${row.index} ${row.params}, recall ${row.recall.toFixed(3)})`
      : 'none reached 0.95';

  const targets: Target[] = [];
  for (const threads of input.threads) {
    for (const set of QUERY_SETS) {
      const here = (row: Row) => row.threads === threads && row.queries === set;
      const mine = best((row) => here(row) && row.library === OURS && row.index !== 'Flat');
      for (const peer of PEERS) {
        const theirs = best((row) => here(row) && row.library === peer);
        if (!theirs && input.skipPeers) continue;
        const oursAt95 = qpsAtRecall(
          rows.filter((row) => here(row) && row.library === OURS && row.index === input.hnswIndex),
        );
        const theirsAt95 = qpsAtRecall(rows.filter((row) => here(row) && row.library === peer));
        const interpolated =
          oursAt95 !== undefined && theirsAt95 !== undefined
            ? `; fp32 HNSW QPS at recall 0.95 (interpolated): ours ${oursAt95.toFixed(0)} vs ${theirsAt95.toFixed(0)}`
            : '';
        const ratio = mine && theirs ? mine.qps / theirs.qps : undefined;
        targets.push({
          target: `QPS at recall@10 >= 0.95 at least ${PEER_SPEEDUP}x ${peer}'s (${set} queries, ${threads} thread${threads > 1 ? 's' : ''})`,
          met: mine !== undefined && (theirs === undefined || ratio! >= PEER_SPEEDUP),
          detail:
            `ours ${describe(mine)} vs ${describe(theirs)}` +
            (ratio === undefined ? '' : `: ${ratio.toFixed(2)}x`) +
            interpolated,
        });
      }
      const tier = best((row) => here(row) && compressed(row));
      const hnsw = best((row) => here(row) && row.library === OURS && row.index === input.hnswIndex);
      targets.push({
        target: `compressed main tier (<= ${MAIN_TIER_BYTES} B/vector resident) at recall@10 >= 0.95 at least as fast as fp32 ${input.hnswIndex} (${set} queries, ${threads} thread${threads > 1 ? 's' : ''})`,
        met:
          tier !== undefined && hnsw !== undefined ? tier.qps >= hnsw.qps : tier !== undefined ? null : false,
        detail:
          `${describe(tier)}, ${tier ? `${bytesOf.get(`${OURS}|${tier.index}`)!.toFixed(1)} B/vector` : ''} vs ` +
          `${input.hnswIndex} ${describe(hnsw)}; full vectors for re-scoring are memory-mapped (page cache, not process memory)`,
      });
    }
  }
  const text = rows
    .filter((row) => compressed(row) && row.queries === 'text')
    .sort((a, b) => b.recall - a.recall)[0];
  targets.push({
    target: 'text queries: compressed tier loses <= 0.02 recall@10 against Flat',
    met: text ? 1 - text.recall <= 0.02 : false,
    detail: text
      ? `best text recall ${text.recall.toFixed(3)} (${text.index} ${text.params}, ${text.threads} thread(s)); Flat is 1.000`
      : 'not measured',
  });

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    faissBuild: faissBuild().label,
    node: process.version,
  };
  const date = new Date().toISOString();
  await mkdir(input.outDir, { recursive: true });
  await writeFile(
    join(input.outDir, 'ann.json'),
    `${JSON.stringify({ command: input.command, date, machine, parameters: input.parameters, builds, rows, targets }, null, 2)}\n`,
  );
  await writeFile(join(input.outDir, 'ann.svg'), recallQpsSvg(rows, Math.min(...input.threads)));

  const fmt = (value: number, digits: number) => value.toFixed(digits);
  const loads = rows.map((row) => row.load1);
  const lines = [
    '# ANN benchmark',
    '',
    `Command: \`${input.command}\``,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; FAISS ${machine.faissBuild}. ` +
      `Date: ${date.slice(0, 10)}.`,
    '',
    input.method,
    '',
    'The load column is the 1-minute load average when a row finished: this 2-core machine may be shared with ' +
      'other work, which lowers QPS and inflates p99 for whichever library runs at that moment. ' +
      `Over this run it was ${fmt(Math.min(...loads), 1)} to ${fmt(Math.max(...loads), 1)} ` +
      `(mean ${fmt(loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length), 1)}).`,
    '',
    `Plot: [ann.svg](ann.svg), recall@10 against QPS per library and index, ${Math.min(...input.threads)} thread.`,
    '',
    '## Targets',
    '',
    '| target | met | detail |',
    '| --- | --- | --- |',
    ...targets.map(
      (t) => `| ${t.target} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} | ${t.detail} |`,
    ),
    '',
    '## Operating point per query kind',
    '',
    'The fastest sweep point of each index that reaches recall@10 >= 0.95, for image and for text queries: ' +
      'text queries need a larger efSearch / nprobe, which a caller sets per query (the shard protocol ' +
      'carries efSearch and nprobe per search).',
    '',
    '| library | index | threads | image: params | recall | QPS | text: params | recall | QPS |',
    '| --- | --- | ---: | --- | ---: | ---: | --- | ---: | ---: |',
    ...operatingPoints(rows).map(
      ({ library, index, threads, image, text }) =>
        `| ${library} | ${index} | ${threads} | ` +
        [image, text]
          .map((row) =>
            row ? `${row.params} | ${fmt(row.recall, 3)} | ${fmt(row.qps, 0)}` : 'not reached | | ',
          )
          .join(' | ') +
        ' |',
    ),
    '',
    '## Builds',
    '',
    '| library | index | build s | build threads | bytes/vector | note |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...builds.map(
      (b) =>
        `| ${b.library} | ${b.index} | ${fmt(b.buildSeconds, 1)} | ${b.buildThreads} | ${fmt(b.bytesPerVector, 1)} | ${b.note ?? ''} |`,
    ),
    '',
    '## Searches',
    '',
    '| library | index | params | queries | threads | recall@10 | QPS | p50 ms | p99 ms | load |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.library} | ${r.index} | ${r.params} | ${r.queries} | ${r.threads} | ${fmt(r.recall, 3)} | ` +
        `${fmt(r.qps, 0)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${fmt(r.load1, 1)} |`,
    ),
    '',
  ];
  await writeFile(join(input.outDir, 'ann.md'), lines.join('\n'));
  log(`wrote ${join(input.outDir, 'ann.md')}, ann.json and ann.svg`);
  for (const t of targets)
    log(`${t.met === null ? 'n/a' : t.met ? 'MET' : 'NOT MET'}: ${t.target}: ${t.detail}`);
}

/** QPS where a sweep crosses recall 0.95, interpolated linearly between the two points around it. */
function qpsAtRecall(curve: Row[]): number | undefined {
  const sorted = [...curve].sort((a, b) => a.recall - b.recall);
  const above = sorted.findIndex((row) => row.recall >= RECALL);
  if (above < 0) return undefined;
  const hi = sorted[above]!;
  const lo = sorted[above - 1];
  if (!lo || hi.recall === lo.recall) return hi.qps;
  return lo.qps + ((RECALL - lo.recall) / (hi.recall - lo.recall)) * (hi.qps - lo.qps);
}

const curveKey = (row: Row) => `${row.library} ${row.index}`;

function operatingPoints(rows: Row[]) {
  const groups = new Map<
    string,
    { library: string; index: string; threads: number; image?: Row; text?: Row }
  >();
  for (const row of rows) {
    if (row.index === 'Flat') continue;
    const key = `${curveKey(row)}|${row.threads}`;
    const group = groups.get(key) ?? { library: row.library, index: row.index, threads: row.threads };
    groups.set(key, group);
    const current = group[row.queries];
    if (row.recall >= RECALL && (!current || row.qps > current.qps)) group[row.queries] = row;
  }
  return [...groups.values()];
}

/** Recall against QPS (log scale), one curve per library and index, image queries above text. */
function recallQpsSvg(rows: Row[], threads: number): string {
  const charts = QUERY_SETS.map((set) => {
    const curves = new Map<string, Array<[number, number]>>();
    for (const row of rows) {
      if (row.threads !== threads || row.queries !== set || row.index === 'Flat') continue;
      const points = curves.get(curveKey(row)) ?? [];
      points.push([row.qps, row.recall]);
      curves.set(curveKey(row), points);
    }
    const series: PlotSeries[] = [...curves].map(([name, points]) => ({
      name,
      points: points.sort((a, b) => a[1] - b[1]),
    }));
    const lowest = Math.min(...series.flatMap((s) => s.points.map((p) => p[1])));
    return lineChartSvg(series, {
      title: `recall@10 against QPS, ${set} queries, ${threads} thread${threads > 1 ? 's' : ''}`,
      xLabel: 'queries per second (log scale)',
      yLabel: 'recall@10',
      xLog: true,
      yRange: [Math.max(0, Math.floor(lowest * 20) / 20), 1],
      yLines: [{ y: RECALL, label: 'recall 0.95' }],
      width: 1000,
    });
  });
  return stackSvgs(charts);
}
