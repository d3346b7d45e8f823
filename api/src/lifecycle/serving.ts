import type { Logger } from '../../../search-cluster/src/index.ts';
import type { ClusterClient } from '../cluster/cluster.client.ts';
import type { Encoder } from '../encoder/index.ts';
import type { EncoderPool } from './encoder-pool.ts';
import { type IndexVersion, type IndexVersionsRepository, WARM_STATES } from './index-versions.repository.ts';

/** The version one query runs on: resolved once, then carried through encode, cache keys and search. */
export interface ServingChoice {
  modelVersion: string;
  encoder: Encoder;
  /** True when a traffic slice (not the ACTIVE version) answers this caller. */
  sliced: boolean;
}

interface Snapshot {
  active: ServingChoice;
  slices: { modelVersion: string; fraction: number; encoder: Encoder }[];
  /** Versions written on every upload, the ACTIVE one first. */
  warm: { modelVersion: string; encoder: Encoder; state: string }[];
  floors: Map<string, number | null>;
}

/** FNV-1a of the text, as a fraction in [0, 1): the stable coin a caller's slice is decided by. */
export function stableFraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

export interface ServingOptions {
  versions: IndexVersionsRepository;
  pool: EncoderPool;
  cluster: Pick<ClusterClient, 'addModelVersion' | 'dropModelVersion'>;
  /** How often other processes' promotions are picked up. Default 1000 ms. */
  pollMs?: number;
  log: Logger;
}

/**
 * Which model version serves, per process: a snapshot of index_versions (Postgres is the
 * record) swapped whole, and only once every version it names has its encoder loaded and its
 * shard index registered. A query reads the snapshot once (`resolve`), so it can never encode
 * with one version and search another's index. The process that promotes refreshes at once;
 * the others within `pollMs`, meanwhile serving the version they had, which stays warm.
 */
export function createServing(options: ServingOptions) {
  const { versions, pool, cluster, log } = options;
  const primary = pool.primary;
  let snapshot: Snapshot = {
    active: { modelVersion: primary.modelVersion, encoder: primary, sliced: false },
    slices: [],
    warm: [{ modelVersion: primary.modelVersion, encoder: primary, state: 'ACTIVE' }],
    floors: new Map(),
  };
  const registered = new Set<string>([primary.modelVersion]);
  let timer: NodeJS.Timeout | null = null;
  let refreshing: Promise<void> | null = null;
  const listeners = new Set<(rows: IndexVersion[]) => void>();

  async function warmUp(row: IndexVersion): Promise<Encoder | null> {
    try {
      const encoder = await pool.get(row.modelVersion);
      if (!registered.has(row.modelVersion)) {
        await cluster.addModelVersion({ name: row.modelVersion, dimension: row.dimension });
        registered.add(row.modelVersion);
      }
      return encoder;
    } catch (error) {
      log.error('model version cannot be served here', {
        modelVersion: row.modelVersion,
        error: String(error),
      });
      return null;
    }
  }

  async function load(): Promise<void> {
    await versions.ensureActive(primary.modelVersion, primary.dimension);
    const rows = await versions.list();
    const next: Snapshot = { active: snapshot.active, slices: [], warm: [], floors: new Map() };
    for (const row of rows) next.floors.set(row.modelVersion, row.evaluation.similarityFloor);
    const ordered = [...rows].sort((a, b) => Number(b.state === 'ACTIVE') - Number(a.state === 'ACTIVE'));
    for (const row of ordered) {
      if (!WARM_STATES.includes(row.state)) continue;
      const encoder = await warmUp(row);
      if (!encoder) continue;
      next.warm.push({ modelVersion: row.modelVersion, encoder, state: row.state });
      if (row.state === 'ACTIVE') next.active = { modelVersion: row.modelVersion, encoder, sliced: false };
      if (row.state === 'READY' && row.trafficFraction > 0) {
        next.slices.push({ modelVersion: row.modelVersion, fraction: row.trafficFraction, encoder });
      }
    }
    snapshot = next;
    // versions no longer warm: free their encoders and this process's shard registrations
    for (const row of rows) {
      if (WARM_STATES.includes(row.state) || !registered.has(row.modelVersion)) continue;
      if (row.modelVersion === snapshot.active.modelVersion) continue;
      registered.delete(row.modelVersion);
      await cluster.dropModelVersion(row.modelVersion).catch((error: unknown) => {
        log.warn('dropping a retired model version failed', {
          modelVersion: row.modelVersion,
          error: String(error),
        });
      });
      await pool.release(row.modelVersion);
    }
    for (const listener of listeners) listener(rows);
  }

  const serving = {
    /** Reads index_versions and swaps the snapshot (one refresh at a time). */
    refresh(): Promise<void> {
      refreshing ??= load().finally(() => {
        refreshing = null;
      });
      return refreshing;
    },
    /** The version serving this caller: a READY slice when its stable coin falls under the fraction. */
    resolve(callerKey: string | null): ServingChoice {
      const current = snapshot;
      if (callerKey !== null) {
        for (const slice of current.slices) {
          if (stableFraction(`${callerKey}\u0000${slice.modelVersion}`) < slice.fraction) {
            return { modelVersion: slice.modelVersion, encoder: slice.encoder, sliced: true };
          }
        }
      }
      return current.active;
    },
    activeModelVersion: () => snapshot.active.modelVersion,
    /** Every version an upload is written to, the ACTIVE first. */
    writeTargets: () => snapshot.warm.map(({ modelVersion, encoder }) => ({ modelVersion, encoder })),
    /** The calibrated similarity floor of a version (null: not evaluated). */
    similarityFloorFor: (modelVersion: string) => snapshot.floors.get(modelVersion) ?? null,
    /** Told the rows after every refresh (the lifecycle's first-day flow and retirement). */
    onRefresh(listener: (rows: IndexVersion[]) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        serving
          .refresh()
          .catch((error: unknown) => log.warn('index_versions refresh failed', { error: String(error) }));
      }, options.pollMs ?? 1000);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await refreshing?.catch(() => undefined);
    },
  };
  return serving;
}
export type Serving = ReturnType<typeof createServing>;
