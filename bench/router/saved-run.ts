import { readFile } from 'node:fs/promises';
import type { LoadSummary, MachineFacts } from '../support/machine.ts';
import type { BuildRow, RouterRun, Row } from './rows.ts';
import type { Settings } from './settings.ts';

/**
 * A saved router.json read back for --render (same flags), to re-render the Markdown without
 * measuring again: every setting is the stored run's, not the flags' defaults.
 */
export async function readSavedRun(file: string): Promise<RouterRun> {
  const saved = JSON.parse(await readFile(file, 'utf8')) as {
    rows: Row[];
    builds: BuildRow[];
    load: LoadSummary;
    date: string;
    machine: MachineFacts;
    avx2: boolean;
    command: string;
    settings: Omit<Settings, 'tiers' | 'inflight' | 'families' | 'oneEf' | 'oneNprobe' | 'oneRescore'> &
      Partial<Pick<Settings, 'tiers' | 'inflight' | 'families' | 'oneEf' | 'oneNprobe' | 'oneRescore'>>;
  };
  // older runs lack tiers and inflight: the rows have them
  const stored = saved.settings;
  return {
    command: saved.command,
    date: saved.date,
    machine: saved.machine,
    avx2: saved.avx2,
    load: saved.load,
    settings: {
      n: stored.n,
      queries: stored.queries,
      dim: stored.dim,
      k: stored.k,
      seed: stored.seed,
      clusters: stored.clusters,
      families: stored.families ?? null,
      shards: stored.shards,
      tiers: stored.tiers ?? [...new Set(saved.rows.map((r) => r.tier))],
      inflight: stored.inflight ?? [...new Set(saved.rows.map((r) => r.inflight))],
      repeats: stored.repeats,
      targetPct: stored.targetPct,
      autoEf: stored.autoEf,
      autoNprobe: stored.autoNprobe,
      // older runs swept one shard over the auto settings only
      oneEf: stored.oneEf ?? [],
      oneNprobe: stored.oneNprobe ?? [],
      oneRescore: stored.oneRescore ?? [],
      shardDefaults: stored.shardDefaults,
    },
    rows: saved.rows,
    builds: saved.builds,
  };
}
