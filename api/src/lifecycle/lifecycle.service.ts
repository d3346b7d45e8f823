import type { Logger } from '../../../search-cluster/src/index.ts';
import type { Caller } from '../auth/roles.ts';
import type { ClusterClient } from '../cluster/cluster.client.ts';
import type { Database } from '../db/database.ts';
import { AppError, badInput, notFound } from '../errors.ts';
import type { EncoderPool } from './encoder-pool.ts';
import { type EvaluationDeps, evaluateGolden, evaluateVersion } from './evaluation.ts';
import { decideGate, type GateSettings, type GateVerdict } from './gate.ts';
import { createGoldenQueriesRepository, type GoldenQuery } from './golden-queries.repository.ts';
import {
  createIndexVersionsRepository,
  type IndexVersion,
  type StoredEvaluation,
} from './index-versions.repository.ts';
import { relevanceReport } from './relevance-report.ts';
import type { Serving } from './serving.ts';

export interface LifecycleSettings extends GateSettings {
  rollbackWindowSeconds: number;
  dropRetiredEmbeddings: boolean;
  /** The configured model (PIXELFIND_MODEL): auto re-indexed and auto promoted when set. */
  autoModel: string | null;
}

export interface LifecycleDeps {
  db: Database;
  pool: EncoderPool;
  serving: Serving;
  cluster: Pick<ClusterClient, 'addModelVersion' | 'dropModelVersion'>;
  evaluation: Omit<EvaluationDeps, 'golden'>;
  settings: LifecycleSettings;
  /** A build was started: wake the re-index runner of this process, if it has one. */
  nudgeRunner?: () => void;
  log: Logger;
}

/** A version as the admin sees it: its row plus the re-index ETA. */
export interface IndexVersionView extends IndexVersion {
  /** Seconds until the build is done at the rate so far (BUILDING only, once it moved). */
  etaSeconds: number | null;
}

const ID = /^[1-9][0-9]{0,18}$/;

/** States, re-index, gate, traffic slice, promote, rollback, retirement (docs/model-lifecycle.md). */
export function createLifecycleService(deps: LifecycleDeps) {
  const { db, pool, serving, settings, log } = deps;
  const versions = createIndexVersionsRepository(db);
  const golden = createGoldenQueriesRepository(db);
  const evaluationDeps: EvaluationDeps = { ...deps.evaluation, golden };

  const view = (v: IndexVersion): IndexVersionView => {
    let etaSeconds: number | null = null;
    if (v.state === 'BUILDING' && v.startedAt && v.progress.done > 0) {
      const rate = v.progress.done / Math.max(0.001, (Date.now() - v.startedAt.getTime()) / 1000);
      etaSeconds = Math.max(0, (v.progress.total - v.progress.done) / rate);
    }
    return { ...v, etaSeconds };
  };

  async function mustGet(modelVersion: string): Promise<IndexVersion> {
    const v = await versions.get(modelVersion);
    if (!v) throw notFound(`No index version ${modelVersion}`);
    return v;
  }

  /** `version`'s evaluation with the golden numbers measured now on its model (not stored). */
  async function withGoldenNow(version: IndexVersion) {
    const encoder = await pool.get(version.modelVersion);
    const golden = await evaluateGolden(evaluationDeps, version.modelVersion, encoder);
    const evaluation: StoredEvaluation = {
      ...version.evaluation,
      goldenRecallAt10: golden.goldenRecallAt10,
      ndcgAt10: golden.ndcgAt10,
      goldenQueries: golden.goldenQueries,
      similarityFloor: golden.similarityFloor ?? version.evaluation.similarityFloor,
    };
    return { golden, evaluation };
  }

  /** Golden recall of the ACTIVE version on today's golden set, stored with it. */
  async function activeGolden(): Promise<StoredEvaluation | null> {
    const active = await versions.active();
    if (!active) return null;
    const { golden: g, evaluation } = await withGoldenNow(active);
    const stored: StoredEvaluation = {
      ...evaluation,
      detail: { ...(evaluation.detail ?? {}), golden: { perQuery: g.perQuery, skipped: g.skipped } },
    };
    await versions.saveEvaluation(active.modelVersion, stored, null);
    return stored;
  }

  /** The gate for a READY version against the ACTIVE one, golden numbers measured now. */
  async function gateFor(candidate: IndexVersion): Promise<GateVerdict> {
    const { evaluation: fresh } = await withGoldenNow(candidate);
    const verdict = decideGate(fresh, await activeGolden(), settings);
    await versions.saveEvaluation(
      candidate.modelVersion,
      { ...fresh, detail: { ...(fresh.detail ?? {}), gate: verdict } },
      null,
    );
    return verdict;
  }

  const service = {
    async list(): Promise<IndexVersionView[]> {
      return (await versions.list()).map(view);
    },
    async get(modelVersion: string): Promise<IndexVersionView> {
      return view(await mustGet(modelVersion));
    },

    /** Starts the shadow re-index of `modelVersion` while the ACTIVE version serves. */
    async startReindex(modelVersion: string, caller?: Caller): Promise<IndexVersionView> {
      const existing = await versions.get(modelVersion);
      if (existing && !['RETIRED', 'FAILED'].includes(existing.state)) {
        throw badInput(`Model version ${modelVersion} is ${existing.state}: nothing to re-index`, {
          state: existing.state,
        });
      }
      const encoder = await pool.get(modelVersion).catch((error: unknown) => {
        throw badInput(`Model ${modelVersion} cannot be loaded: ${(error as Error).message}`);
      });
      await deps.cluster.addModelVersion({ name: modelVersion, dimension: encoder.dimension });
      const started = await versions.startBuilding(modelVersion, encoder.dimension);
      if (!started) throw badInput(`Model version ${modelVersion} is already being re-indexed`);
      log.info('re-index requested', {
        modelVersion,
        by: caller?.ownerId ?? 'system',
        images: started.progress.total,
      });
      await serving.refresh();
      deps.nudgeRunner?.();
      return view(started);
    },

    async cancelReindex(modelVersion: string, caller?: Caller): Promise<IndexVersionView> {
      if (!(await versions.cancel(modelVersion, `cancelled by ${caller?.ownerId ?? 'an admin'}`))) {
        throw badInput(`Model version ${modelVersion} is not being re-indexed`);
      }
      await serving.refresh();
      return view(await mustGet(modelVersion));
    },

    /** Called by the re-index runner when every vector is written: evaluate, then READY. */
    async onBuilt(version: IndexVersion, owner: string): Promise<void> {
      const encoder = await pool.get(version.modelVersion);
      const evaluation = await evaluateVersion(evaluationDeps, version.modelVersion, encoder);
      await versions.saveEvaluation(version.modelVersion, evaluation, owner);
      log.info('model version evaluated', {
        modelVersion: version.modelVersion,
        goldenRecallAt10: evaluation.goldenRecallAt10,
        annRecallText: evaluation.annRecallText,
        annRecallImage: evaluation.annRecallImage,
      });
      await serving.refresh();
      if (settings.autoModel === version.modelVersion) {
        await service.promoteIndex(version.modelVersion, false).catch((error: unknown) => {
          log.warn('automatic promotion refused', {
            modelVersion: version.modelVersion,
            error: (error as Error).message,
          });
        });
      }
    },

    /** The gate's verdict for a READY version (what promoteIndex would decide), stored with it. */
    async evaluateGate(modelVersion: string): Promise<GateVerdict> {
      const candidate = await mustGet(modelVersion);
      return gateFor(candidate);
    },

    /**
     * READY -> ACTIVE (encoder and index together, on every process), the ACTIVE -> PREVIOUS.
     * Refuses with GATE_FAILED and the numbers unless forced; a forced promotion is logged.
     */
    async promoteIndex(modelVersion: string, force = false, caller?: Caller): Promise<IndexVersionView> {
      const candidate = await mustGet(modelVersion);
      if (candidate.state !== 'READY') {
        throw badInput(`Only a READY version can be promoted; ${modelVersion} is ${candidate.state}`, {
          state: candidate.state,
        });
      }
      const verdict = await gateFor(candidate);
      if (!verdict.passed && !force) {
        throw new AppError(
          'GATE_FAILED',
          `Promotion of ${modelVersion} refused: ${verdict.failures.join('; ')}`,
          {
            gate: verdict,
          },
        );
      }
      if (!verdict.passed) {
        log.warn('promotion forced past the gate', {
          modelVersion,
          by: caller?.ownerId ?? 'unknown',
          failures: verdict.failures,
          numbers: verdict.numbers,
        });
      }
      const moved = await db.transaction((tx) => createIndexVersionsRepository(tx).promote(modelVersion));
      if (moved.retired) await retire(moved.retired);
      log.info('model version promoted', {
        modelVersion,
        previous: moved.previous,
        forced: force && !verdict.passed,
      });
      await serving.refresh();
      return view(await mustGet(modelVersion));
    },

    /** Back to PREVIOUS at once (it is warm); the version rolled back from becomes READY. */
    async rollbackIndex(caller?: Caller): Promise<IndexVersionView> {
      const moved = await db.transaction((tx) => createIndexVersionsRepository(tx).rollback());
      if (!moved)
        throw badInput('There is no PREVIOUS version to roll back to (retired after the rollback window?)');
      log.info('model version rolled back', { active: moved.active, from: moved.from, by: caller?.ownerId });
      await serving.refresh();
      return view(await mustGet(moved.active));
    },

    /** Sends `fraction` of searches (stable per caller) to a READY version. */
    async setIndexTraffic(modelVersion: string, fraction: number): Promise<IndexVersionView> {
      if (!Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
        throw badInput(`Expected fraction between 0 and 1 but received ${fraction}`);
      }
      if (!(await versions.setTraffic(modelVersion, fraction))) {
        const v = await mustGet(modelVersion);
        throw badInput(`Only a READY version takes a traffic slice; ${modelVersion} is ${v.state}`);
      }
      await serving.refresh();
      return view(await mustGet(modelVersion));
    },

    /** PREVIOUS versions past the rollback window: RETIRED, shard memory freed. */
    async retireCold(): Promise<string[]> {
      const retired = await versions.retireCold(settings.rollbackWindowSeconds);
      for (const modelVersion of retired) await retire(modelVersion);
      if (retired.length > 0) await serving.refresh();
      return retired;
    },

    /**
     * First-day flow: PIXELFIND_MODEL names a model that is not the active one. Keep serving
     * the active version and start the re-index (once: a version that failed or was refused
     * stays so until an admin acts).
     */
    async startConfiguredModel(): Promise<IndexVersionView | null> {
      const model = settings.autoModel;
      if (!model) return null;
      const [active, existing] = [await versions.active(), await versions.get(model)];
      if (!active || active.modelVersion === model || existing) return null;
      log.info('configured model is not the active one: re-indexing the library to it', {
        active: active.modelVersion,
        model,
      });
      return service.startReindex(model).catch((error: unknown) => {
        log.warn('automatic re-index not started', { model, error: (error as Error).message });
        return null;
      });
    },

    relevanceReport: (window: string) => relevanceReport(db, window),

    goldenQueries: (): Promise<GoldenQuery[]> => golden.list(),
    async addGoldenQuery(
      input: { text?: string | null; imageId?: string | null; relevantIds: readonly string[] },
      caller?: Caller,
    ): Promise<GoldenQuery> {
      const text = input.text?.trim() || null;
      const imageId = input.imageId ?? null;
      if ((text === null) === (imageId === null)) throw badInput('Expected exactly one of text or imageId');
      if (text !== null && text.length > 1000) throw badInput('Expected a text of at most 1000 characters');
      const ids = [...new Set(input.relevantIds.map(String))];
      if (ids.length === 0 || ids.length > 1000) throw badInput('Expected 1 to 1000 relevantIds');
      const bad = [...ids, ...(imageId ? [imageId] : [])].find((id) => !ID.test(id));
      if (bad) throw badInput(`Expected image ids but received ${JSON.stringify(bad)}`);
      const existing = await golden.existingImages([...ids, ...(imageId ? [imageId] : [])]);
      const missing = [...ids, ...(imageId ? [imageId] : [])].filter((id) => !existing.has(id));
      if (missing.length > 0) throw badInput(`No images with ids ${missing.join(', ')}`, { missing });
      return golden.add({ text, imageId, relevantIds: ids, createdBy: caller?.ownerId ?? null });
    },
    async removeGoldenQuery(id: string): Promise<boolean> {
      if (!ID.test(id)) throw badInput(`Expected a golden query id but received ${JSON.stringify(id)}`);
      if (!(await golden.remove(id))) throw notFound(`No golden query ${id}`);
      return true;
    },
  };

  async function retire(modelVersion: string): Promise<void> {
    await deps.cluster.dropModelVersion(modelVersion).catch((error: unknown) => {
      log.warn('freeing a retired version failed', { modelVersion, error: String(error) });
    });
    if (settings.dropRetiredEmbeddings) {
      const dropped = await versions.dropEmbeddings(modelVersion);
      log.info('retired version embeddings dropped', { modelVersion, dropped });
    }
    log.info('model version retired', { modelVersion });
  }

  return service;
}
export type LifecycleService = ReturnType<typeof createLifecycleService>;
