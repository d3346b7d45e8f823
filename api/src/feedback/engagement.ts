/** What engagement is computed from: one image_stats row. */
export interface EngagementStats {
  impressions: number;
  clicks: number;
  saves: number;
}

export interface EngagementPrior {
  /** Click-through rate assumed before any data. Default 0.05. */
  ctr: number;
  /** Saves per impression assumed before any data. Default 0.01. */
  saveRate: number;
  /** How many impressions the prior is worth (beta prior pseudo-counts). Default 20. */
  strength: number;
  /** Share of clicks in the combined lift; saves get the rest. Default 0.7. */
  clickShare?: number;
}

export const DEFAULT_ENGAGEMENT_PRIOR: EngagementPrior = {
  ctr: 0.05,
  saveRate: 0.01,
  strength: 20,
  clickShare: 0.7,
};

// counts come from bigint columns and may arrive as bigint or string; bad data counts as none
const count = (value: unknown) => {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : 0;
};

/**
 * Engagement in [0, 1) for the re-ranker, with the prior at exactly 0.5.
 *
 * Click-through and save rates are smoothed with a beta prior worth `strength` impressions:
 *   ctr  = (clicks + ctr0 * strength) / (impressions + strength)
 *   save = (saves + save0 * strength) / (impressions + strength)
 * so an image with no data has the prior rates, not zero, and a few lucky clicks move it little.
 * Each rate is taken relative to its prior (the lift; 1 = as good as the average image) and the
 * two lifts are mixed: lift = clickShare * ctr/ctr0 + (1 - clickShare) * save/save0. The lift is
 * mapped into [0, 1) by lift / (1 + lift): no data (or exactly average) gives 0.5, twice the
 * average 0.67, ten times 0.91, never clicked nor saved after many impressions tends to 0.
 *
 * It rises with clicks and saves and falls with impressions that brought neither.
 */
export function smoothedEngagement(
  stats: EngagementStats | null,
  prior: EngagementPrior = DEFAULT_ENGAGEMENT_PRIOR,
): number {
  const clickShare = prior.clickShare ?? 0.7;
  if (!(prior.ctr > 0 && prior.saveRate > 0 && prior.strength > 0 && clickShare >= 0 && clickShare <= 1)) {
    throw new RangeError(
      `Expected a prior with positive ctr, saveRate and strength and clickShare in [0, 1] but received ${JSON.stringify(prior)}`,
    );
  }
  const impressions = count(stats?.impressions);
  const ctr = (count(stats?.clicks) + prior.ctr * prior.strength) / (impressions + prior.strength);
  const saveRate = (count(stats?.saves) + prior.saveRate * prior.strength) / (impressions + prior.strength);
  const lift = clickShare * (ctr / prior.ctr) + (1 - clickShare) * (saveRate / prior.saveRate);
  return lift / (1 + lift);
}
