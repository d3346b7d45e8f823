/**
 * Re-ranking: score = w_sim * similarity + w_eng * engagement + w_rec * recency.
 * Weights are versioned: the version is logged with every query so CTR can be compared
 * across rankers. Safety is not a weight: it is a gate applied before ranking.
 */
export interface RankerConfig {
  version: string;
  weights: { similarity: number; engagement: number; recency: number };
  /** Recency halves every this many days. */
  recencyHalfLifeDays: number;
}

export const DEFAULT_RANKER: RankerConfig = {
  version: 'r1',
  weights: { similarity: 1, engagement: 0.1, recency: 0.02 },
  recencyHalfLifeDays: 30,
};

export function parseRankerConfig(json: string): RankerConfig {
  const raw = JSON.parse(json) as Partial<RankerConfig>;
  const weights = { ...DEFAULT_RANKER.weights, ...(raw.weights ?? {}) };
  for (const [name, w] of Object.entries(weights)) {
    if (!Number.isFinite(w) || w < 0)
      throw new Error(`Expected a non-negative ranker weight for ${name} but received ${w}`);
  }
  if (!raw.version) throw new Error('Expected the ranker config to carry a version');
  const halfLife = raw.recencyHalfLifeDays ?? DEFAULT_RANKER.recencyHalfLifeDays;
  if (!(halfLife > 0)) throw new Error(`Expected recencyHalfLifeDays > 0 but received ${halfLife}`);
  return { version: raw.version, weights, recencyHalfLifeDays: halfLife };
}

const DAY_MS = 86_400_000;

export function recency(createdAt: Date, now: number, halfLifeDays: number): number {
  const ageDays = Math.max(0, (now - createdAt.getTime()) / DAY_MS);
  return 2 ** (-ageDays / halfLifeDays);
}

export interface Signals {
  similarity: number;
  engagement: number;
  recency: number;
}

export function combine(signals: Signals, config: RankerConfig): number {
  const w = config.weights;
  return w.similarity * signals.similarity + w.engagement * signals.engagement + w.recency * signals.recency;
}
