import type { StoredEvaluation } from './index-versions.repository.ts';

export interface GateSettings {
  /** Golden recall@10 must reach this fraction of the active version's. Default 0.99. */
  goldenRatio: number;
  /** ANN recall@10 (text and image apart) must reach this. Default 0.95. */
  minAnnRecall: number;
}

export interface GateVerdict {
  passed: boolean;
  /** Why it failed (empty when it passed). */
  failures: string[];
  /** What it could not judge (no golden data, an empty library). */
  notes: string[];
  numbers: {
    goldenRecallAt10: number | null;
    activeGoldenRecallAt10: number | null;
    requiredGoldenRecallAt10: number | null;
    ndcgAt10: number | null;
    annRecallText: number | null;
    annRecallImage: number | null;
    minAnnRecall: number;
    goldenQueries: number;
  };
}

/**
 * The promotion gate: golden recall@10 >= goldenRatio x the active version's (both measured on
 * the same golden set) and ANN recall >= minAnnRecall on text and on image queries. With no
 * golden data it says so and decides on ANN health alone.
 */
export function decideGate(
  candidate: StoredEvaluation,
  active: StoredEvaluation | null,
  settings: GateSettings,
): GateVerdict {
  const failures: string[] = [];
  const notes: string[] = [];
  const goldenQueries = candidate.goldenQueries ?? 0;
  const activeRecall = active?.goldenRecallAt10 ?? null;
  const required = activeRecall === null ? null : activeRecall * settings.goldenRatio;
  if (goldenQueries === 0 || candidate.goldenRecallAt10 === null) {
    notes.push('no golden data (curated or mined): decided on ANN health alone');
  } else if (required === null) {
    notes.push('the active version has no golden recall to compare with: decided on ANN health alone');
  } else if (candidate.goldenRecallAt10 < required) {
    failures.push(
      `golden recall@10 ${candidate.goldenRecallAt10.toFixed(3)} < ${required.toFixed(3)} (${settings.goldenRatio} x active ${activeRecall!.toFixed(3)})`,
    );
  }
  for (const [what, recall] of [
    ['text', candidate.annRecallText],
    ['image', candidate.annRecallImage],
  ] as const) {
    if (recall === null) notes.push(`no ${what} queries for ANN recall (empty library?)`);
    else if (recall < settings.minAnnRecall)
      failures.push(`ANN recall@10 (${what}) ${recall.toFixed(3)} < ${settings.minAnnRecall}`);
  }
  return {
    passed: failures.length === 0,
    failures,
    notes,
    numbers: {
      goldenRecallAt10: candidate.goldenRecallAt10,
      activeGoldenRecallAt10: activeRecall,
      requiredGoldenRecallAt10: required,
      ndcgAt10: candidate.ndcgAt10,
      annRecallText: candidate.annRecallText,
      annRecallImage: candidate.annRecallImage,
      minAnnRecall: settings.minAnnRecall,
      goldenQueries,
    },
  };
}
