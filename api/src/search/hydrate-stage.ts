import { smoothedEngagement } from '../feedback/engagement.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { FactsCache } from './facts-cache.ts';
import { combine, recency, type Signals } from './ranker.ts';
import { relevanceCut } from './relevance.ts';
import { passesSafetyGate } from './safety-gate.ts';
import type { CandidateFacts, PagePlan, SearchRepository } from './search.repository.ts';
import type { ScoredId } from './vectors.ts';

/**
 * The hard safety gate on every candidate (the statements' own SQL gate only picks the page),
 * the relevance floor on what it admits, then the ranking formula, best first.
 */
export function rankCandidates(
  candidates: readonly ScoredId[],
  facts: readonly (CandidateFacts | null)[],
  plan: PagePlan,
) {
  const admitted: { candidate: ScoredId; facts: CandidateFacts }[] = [];
  candidates.forEach((candidate, i) => {
    const f = facts[i];
    if (f && passesSafetyGate(f, plan.safetyThreshold)) admitted.push({ candidate, facts: f });
  });
  const cut = relevanceCut({ similarities: admitted.map((a) => a.candidate.score), ...plan.cut });
  const relevant = admitted.filter((a) => a.candidate.score >= cut.minSimilarity);
  const ranked = relevant
    .map(({ candidate, facts: f }) => {
      const signals: Signals = {
        similarity: candidate.score,
        engagement: smoothedEngagement(f.stats, plan.prior),
        recency: recency(new Date(f.created_ms), plan.now, plan.ranker.recencyHalfLifeDays),
      };
      return { facts: f, similarity: candidate.score, signals, score: combine(signals, plan.ranker) };
    })
    .sort((a, b) => b.score - a.score || Number(BigInt(a.facts.id) - BigInt(b.facts.id)));
  return { admitted, cut, relevant, ranked };
}

export interface HydrateStageDeps {
  repository: Pick<SearchRepository, 'pageOf' | 'gatedPageOf'>;
  factsCache: FactsCache | null;
  metrics?: Pick<Metrics, 'hydratePath'> | undefined;
}

/**
 * The hydrate stage, one statement either way. Every candidate known to the facts cache: the
 * page is chosen from the cached facts and only its rows are read, gated again in SQL; a page
 * row the statement no longer admits sends the search through the full statement. Otherwise
 * the full statement (every candidate's facts, the page's display fields), which refills the cache.
 */
export function createHydrateStage({ repository: repo, factsCache, metrics }: HydrateStageDeps) {
  return async function hydrate(
    candidates: readonly ScoredId[],
    plan: PagePlan,
  ): Promise<{ epoch: string; candidates: CandidateFacts[] }> {
    const cached = factsCache?.lookup(candidates) ?? null;
    if (factsCache && cached) {
      const page = rankCandidates(candidates, cached, plan)
        .ranked.slice(plan.offset, plan.offset + plan.limit)
        .map((r) => r.facts.id);
      const fresh = await repo.gatedPageOf(page, plan.safetyThreshold);
      if (fresh.candidates.length === page.length) {
        metrics?.hydratePath.inc({ path: 'page' });
        // the page rows as the statement read them (gate columns, display fields), ranked with the
        // cached counts the page was picked by: with fresher counts on the page alone the ranking
        // could move an unread row onto it, read again through the loaders
        const onPage = new Map(fresh.candidates.map((f) => [f.id, f]));
        const facts = cached
          .filter((f): f is CandidateFacts => f !== null)
          .map((f) => {
            const read = onPage.get(f.id);
            return read ? { ...read, stats: f.stats, created_ms: f.created_ms } : f;
          });
        return { epoch: fresh.epoch, candidates: facts };
      }
      const admittedNow = new Set(fresh.candidates.map((f) => f.id));
      factsCache.forget(page.filter((id) => !admittedNow.has(id)));
      metrics?.hydratePath.inc({ path: 'recheck' });
    } else {
      metrics?.hydratePath.inc({ path: 'full' });
    }
    const read = await repo.pageOf(candidates, plan);
    factsCache?.store(candidates, read.candidates);
    return read;
  };
}
