import type { Queryable } from '../db/database.ts';
import { toBuffer } from '../db/database.ts';
import type { EngagementPrior } from '../feedback/engagement.ts';
import type { ImageRecord, TagRecord } from '../images/image.types.ts';
import type { RankerConfig } from './ranker.ts';
import { bufferToVector, type ScoredId } from './vectors.ts';

/** What the statement of `pageOf` needs to pick the page the service will rank (search.service.ts). */
export interface PagePlan {
  safetyThreshold: number;
  ranker: RankerConfig;
  prior: EngagementPrior;
  /** ms since the epoch: recency's "now", the same in SQL and in the service */
  now: number;
  cut: { requested: number | null; floor: number; margin: number; adaptive: boolean };
  offset: number;
  limit: number;
}

/** The image fields only the page needs: what a hit shows, beyond what the gate and ranker read. */
const DISPLAY_COLUMNS = [
  'storage_url',
  'mime_type',
  'byte_size',
  'width',
  'height',
  'uploader_id',
  'sha256',
  'created_at',
] as const satisfies readonly (keyof ImageRecord)[];
type DisplayColumn = (typeof DISPLAY_COLUMNS)[number];

/** What the gate and the ranker read of one candidate, and its display fields when it is on the page. */
export interface CandidateFacts
  extends Pick<ImageRecord, 'id' | 'status' | 'deleted_at' | 'safety_score' | 'flagged'> {
  /** created_at in whole ms, as recency reads it */
  created_ms: number;
  stats: { impressions: number; clicks: number; saves: number } | null;
  /** set for the candidates the statement ranked onto the page */
  display: (Pick<ImageRecord, DisplayColumn> & { tags: TagRecord[] }) | null;
}

/** A row of PAGE_SQL: display columns and tags are null off the page, and every column but the epoch without candidates. */
type CandidateRow = Omit<CandidateFacts, 'id' | 'stats' | 'display'> &
  Pick<ImageRecord, DisplayColumn> & {
    epoch: string;
    id: string | null;
    impressions: number | null;
    clicks: number | null;
    saves: number | null;
    tags: TagRecord[] | null;
  };

/**
 * One statement for the whole hydrate stage. Every candidate's gate and ranking columns (status,
 * deletion, safety score, blocklist, created_at, stats) and the safety epoch, read in one snapshot;
 * and for the page only, the display fields and tags. The page is picked here with the service's
 * gate, relevance cut and ranking formula written in SQL ($-parameters from the same config), so
 * the rows the service shows are already here; the service ranks again from the narrow columns
 * and stays the authority (a page row missing here is read through the loaders).
 */
const PAGE_SQL = `
SELECT e.epoch::text AS epoch, x.id::text AS id, x.status, x.deleted_at, x.safety_score, x.flagged, x.created_ms,
       x.impressions, x.clicks, x.saves,
       ${DISPLAY_COLUMNS.map((column) => `CASE WHEN x.on_page THEN x.${column} END AS ${column}`).join(', ')},
       CASE WHEN x.on_page THEN (
         SELECT coalesce(json_agg(json_build_object('image_id', t.image_id::text, 'label', t.label,
                  'confidence', t.confidence, 'source', t.source) ORDER BY t.confidence DESC, t.label), '[]')
         FROM tags t WHERE t.image_id = x.id) END AS tags
-- LIMIT 1: the planner's estimate of one row even before the table is analysed (a guess of
-- thousands made the statement cost enough for JIT compilation, a second per search)
FROM (SELECT epoch FROM safety_epoch LIMIT 1) e
LEFT JOIN (
  SELECT ranked.*, ranked.score IS NOT NULL
         AND row_number() OVER (ORDER BY ranked.score DESC NULLS LAST, ranked.id) BETWEEN $17 + 1 AND $17 + $18 AS on_page
  FROM (
    SELECT gated.*,
           CASE WHEN gated.admitted AND gated.similarity >= CASE
                  WHEN $4::float8 IS NOT NULL THEN $4::float8
                  WHEN $7::boolean THEN greatest($5::float8, gated.best - $6::float8)
                  ELSE $5::float8 END
           THEN $14::float8 * gated.similarity
              + $15::float8 * (lift.value / (1 + lift.value))
              + $16::float8 * power(2::float8, -greatest(0::float8, ($8::float8 - gated.created_ms) / 86400000::float8) / $9::float8)
           END AS score
    FROM (
      SELECT facts.*, max(facts.similarity) FILTER (WHERE facts.admitted) OVER () AS best
      FROM (
        SELECT i.id, c.similarity, i.status, i.deleted_at, i.safety_score, b.image_id IS NOT NULL AS flagged,
               floor(extract(epoch FROM i.created_at) * 1000)::float8 AS created_ms,
               s.impressions, s.clicks, s.saves,
               i.status = 'INDEXED' AND i.deleted_at IS NULL AND b.image_id IS NULL
                 AND i.safety_score >= $3::float8 AS admitted,
               ${DISPLAY_COLUMNS.map((column) => `i.${column}`).join(', ')}
        FROM unnest($1::bigint[], $2::float8[]) AS c(id, similarity)
        JOIN images i ON i.id = c.id
        LEFT JOIN safety_blocklist b ON b.image_id = i.id
        LEFT JOIN image_stats s ON s.image_id = i.id
      ) facts
    ) gated
    CROSS JOIN LATERAL (SELECT greatest(coalesce(gated.impressions, 0), 0)::float8 AS n) imp
    CROSS JOIN LATERAL (
      SELECT $13::float8 * ((greatest(coalesce(gated.clicks, 0), 0) + $10::float8 * $12::float8) / (imp.n + $12::float8) / $10::float8)
           + (1 - $13::float8) * ((greatest(coalesce(gated.saves, 0), 0) + $11::float8 * $12::float8) / (imp.n + $12::float8) / $11::float8) AS value
    ) lift
  ) ranked
) x ON true`;

/**
 * The page alone, when the candidates' facts were cached (facts-cache.ts): the safety epoch, and
 * for each of `ids` that passes the gate now (indexed, live, not blocklisted, safety score at
 * least $2) its gate and ranking columns, display fields and tags. An id it leaves out is not
 * admissible now, whatever the cache said.
 */
const GATED_PAGE_SQL = `
SELECT e.epoch::text AS epoch, x.* FROM (SELECT epoch FROM safety_epoch LIMIT 1) e
LEFT JOIN (
  SELECT i.id::text AS id, i.status, i.deleted_at, i.safety_score, false AS flagged,
         floor(extract(epoch FROM i.created_at) * 1000)::float8 AS created_ms,
         s.impressions, s.clicks, s.saves,
         ${DISPLAY_COLUMNS.map((column) => `i.${column}`).join(', ')},
         (SELECT coalesce(json_agg(json_build_object('image_id', t.image_id::text, 'label', t.label,
                  'confidence', t.confidence, 'source', t.source) ORDER BY t.confidence DESC, t.label), '[]')
          FROM tags t WHERE t.image_id = i.id) AS tags
  FROM unnest($1::bigint[]) AS c(id)
  JOIN images i ON i.id = c.id
  LEFT JOIN image_stats s ON s.image_id = i.id
  WHERE i.status = 'INDEXED' AND i.deleted_at IS NULL AND i.safety_score >= $2::float8
    AND NOT EXISTS (SELECT 1 FROM safety_blocklist b WHERE b.image_id = i.id)
) x ON true`;

/** The facts of the rows of PAGE_SQL or GATED_PAGE_SQL (the row carrying only the epoch skipped). */
function factsOfRows(rows: readonly CandidateRow[]): CandidateFacts[] {
  const facts: CandidateFacts[] = [];
  for (const row of rows) {
    if (row.id === null) continue; // no candidate found: the row only carries the epoch
    const { impressions, clicks, saves, tags } = row;
    facts.push({
      id: row.id,
      status: row.status,
      deleted_at: row.deleted_at,
      safety_score: row.safety_score,
      flagged: row.flagged,
      created_ms: row.created_ms,
      stats: impressions === null ? null : { impressions, clicks: clicks ?? 0, saves: saves ?? 0 },
      display:
        tags === null
          ? null
          : {
              ...(Object.fromEntries(DISPLAY_COLUMNS.map((column) => [column, row[column]])) as Pick<
                ImageRecord,
                DisplayColumn
              >),
              tags,
            },
    });
  }
  return facts;
}

export function createSearchRepository(db: Queryable) {
  return {
    /**
     * The stored vector of a public image (or of the image it duplicates): indexed, live and
     * flagged neither itself nor through its canonical copy. Anything else cannot seed a search.
     */
    async embeddingOf(imageId: string, modelVersion: string): Promise<Float32Array | null> {
      const { rows } = await db.query<{ vector: unknown }>(
        `SELECT e.vector FROM images i
           JOIN embeddings e ON e.image_id = coalesce(i.duplicate_of, i.id) AND e.model_version = $2
            AND e.deleted_at IS NULL
         WHERE i.id = $1 AND i.deleted_at IS NULL AND i.status = 'INDEXED'
           AND NOT EXISTS (SELECT 1 FROM safety_blocklist b
                            WHERE b.image_id IN (i.id, coalesce(i.duplicate_of, i.id)))`,
        [imageId, modelVersion],
      );
      return rows[0] ? bufferToVector(toBuffer(rows[0].vector)) : null;
    },

    /**
     * The hydrate stage in one round trip (PAGE_SQL): the facts of every candidate found in
     * `images`, in no particular order, and the safety epoch they were read at.
     */
    async pageOf(
      candidates: readonly ScoredId[],
      plan: PagePlan,
    ): Promise<{ epoch: string; candidates: CandidateFacts[] }> {
      const { ranker, prior, cut } = plan;
      const { rows } = await db.query<CandidateRow>(
        PAGE_SQL,
        [
          // array literals built here: pg would escape every element of a JS array on its own
          `{${candidates.map((c) => c.id).join(',')}}`,
          `{${candidates.map((c) => c.score).join(',')}}`,
          plan.safetyThreshold,
          cut.requested,
          cut.floor,
          cut.margin,
          cut.adaptive,
          plan.now,
          ranker.recencyHalfLifeDays,
          prior.ctr,
          prior.saveRate,
          prior.strength,
          prior.clickShare ?? 0.7,
          ranker.weights.similarity,
          ranker.weights.engagement,
          ranker.weights.recency,
          plan.offset,
          plan.limit,
        ],
        { prepareAs: 'search-page' },
      );
      return { epoch: rows[0]!.epoch, candidates: factsOfRows(rows) };
    },

    /**
     * The page in one round trip when the candidates' facts were cached (GATED_PAGE_SQL): the
     * rows of `ids` admissible now, with display fields and tags, and the safety epoch.
     */
    async gatedPageOf(
      ids: readonly string[],
      safetyThreshold: number,
    ): Promise<{ epoch: string; candidates: CandidateFacts[] }> {
      const { rows } = await db.query<CandidateRow>(GATED_PAGE_SQL, [`{${ids.join(',')}}`, safetyThreshold], {
        prepareAs: 'search-gated-page',
      });
      return { epoch: rows[0]!.epoch, candidates: factsOfRows(rows) };
    },

    /** Ids of live images carrying every one of `labels` (from any source). */
    async idsWithLabels(labels: readonly string[], cap: number): Promise<bigint[]> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT t.image_id::text AS id FROM tags t JOIN images i ON i.id = t.image_id
         WHERE t.label = ANY($1::text[]) AND i.deleted_at IS NULL AND i.status = 'INDEXED'
         GROUP BY t.image_id HAVING count(DISTINCT t.label) = $2
         LIMIT $3`,
        [labels, labels.length, cap],
      );
      return rows.map((r) => BigInt(r.id));
    },

    /** The safety epoch: bumped with every flag, unflag, rejection and deletion. */
    async safetyEpoch(): Promise<string> {
      const { rows } = await db.query<{ epoch: string }>('SELECT epoch::text AS epoch FROM safety_epoch');
      return rows[0]!.epoch;
    },
  };
}
export type SearchRepository = ReturnType<typeof createSearchRepository>;
