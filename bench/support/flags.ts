import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import { commandLine, type LoadSummary, type MachineFacts, machineFacts } from './machine.ts';

/** A command-line flag that must be a positive integer; says which flag and what it got otherwise. */
export function positiveInt(name: string, raw: unknown): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`Expected a positive integer for --${name} but received ${JSON.stringify(raw)}`);
  return n;
}

/** Every named flag as a positive integer (see positiveInt). */
export function positiveInts<K extends string>(
  values: Record<K, unknown>,
  names: readonly K[],
): Record<K, number> {
  return Object.fromEntries(names.map((name) => [name, positiveInt(name, values[name])])) as Record<
    K,
    number
  >;
}

/** What every results file opens with: how it was run, when, on what machine, under what load. */
export interface RunStamp {
  command: string;
  date: string;
  machine: MachineFacts;
  load: LoadSummary;
}

export function runStamp(script: string, load: LoadSummary): RunStamp {
  return { command: commandLine(script), date: new Date().toISOString(), machine: machineFacts(), load };
}

/** The same facts as the Markdown lines under a results file's title. */
export function stampMarkdown({ command, date, machine, load }: RunStamp): string {
  return `Command: \`${command}\` (${date})

Machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; ${machine.faiss}.
Load (1-minute average, shared machine): ${load.atStart} at start, mean ${load.mean}, max ${load.max}, ${load.atEnd} at end;
this process used ${load.processCpuPercent}% of the machine's CPU over the run${load.othersCpuPercent === null ? '' : `, other processes ${load.othersCpuPercent}% (Postgres included when the run uses it), the hypervisor ${load.stolenCpuPercent ?? 0}% (steal time: a neighbour on the host)`}.`;
}

/**
 * parseArgs options of the synthetic vector set (`annData`): corpus size, queries, dimension, k,
 * seed and cluster count (unset: the script derives it from n). Defaults that differ per bench
 * are given.
 */
export function syntheticDataFlags(defaults: { n: string; dim: string; queries?: string; seed?: string }) {
  return {
    n: { type: 'string', default: defaults.n },
    queries: { type: 'string', default: defaults.queries ?? '1000' },
    dim: { type: 'string', default: defaults.dim },
    k: { type: 'string', default: '10' },
    seed: { type: 'string', default: defaults.seed ?? '42' },
    clusters: { type: 'string' },
  } as const;
}

/** The values of syntheticDataFlags, checked: positive integers; `clusters` undefined when unset. */
export function syntheticDataSettings(
  values: Record<'n' | 'queries' | 'dim' | 'k' | 'seed', unknown> & { clusters?: unknown },
) {
  const settings = positiveInts(values, ['n', 'queries', 'dim', 'k', 'seed']);
  const clusters = values.clusters === undefined ? undefined : positiveInt('clusters', values.clusters);
  return { ...settings, clusters };
}

/** A comma-separated flag as numbers (`--ef 16,32,64`). */
export const numberList = (raw: unknown): number[] => String(raw).split(',').map(Number);

/** A `--tiers` flag: main tier kinds, comma-separated; an unknown one is an error. */
export function mainTierList(raw: unknown): MainTierKind[] {
  const tiers = String(raw).split(',') as MainTierKind[];
  for (const t of tiers)
    if (!['flat', 'hnsw', 'ivfpq'].includes(t)) throw new Error(`Unknown tier ${t} (flat, hnsw, ivfpq)`);
  return tiers;
}
