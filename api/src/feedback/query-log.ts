import { type LogSink, silentLogger } from '../../../search-cluster/src/index.ts';
import type { Queryable } from '../db/database.ts';
import { isImageId } from '../images/image-id.ts';

/** One search as the query log keeps it: one `search_queries` row. */
export interface QueryLogEntry {
  /** The queryId the client got back (a uuid); clicks refer to it. */
  id: string;
  queryText: string | null;
  imageRef: string | null;
  fusion: string | null;
  textWeight: number | null;
  filters: Record<string, unknown>;
  /** Image ids in the order shown; a click's position is the index in this list. */
  resultIds: string[];
  modelVersion: string;
  rankerVersion: string;
  latencyMs: number;
  partial: boolean;
  apiKeyId: string | null;
  /** Who ran the query (see callerRefOf); only that caller's clicks on it count. Default null. */
  callerRef?: string | null;
  createdAt: Date;
}

export interface QueryLogOptions {
  db: Queryable;
  /** Component `query-log`. Default: silent. */
  log?: LogSink;
  /** Entries held in memory waiting to be written; a new entry beyond it is dropped. Default 10 000. */
  maxBuffer?: number;
  /** How often buffered entries are written. Default 200 ms. */
  flushEveryMs?: number;
  /** Most rows per INSERT (one statement per batch). Default 500. */
  batchSize?: number;
  /** Wait before the one retry of a failed batch. Default 100 ms. */
  retryDelayMs?: number;
  /** Told about a batch given up after its retry. Default: one JSON line on stderr. */
  onBatchFailed?: (error: unknown, entries: number) => void;
}

export interface QueryLogStats {
  /** Accepted, not yet written (or being written). */
  buffered: number;
  /** Rows written. */
  written: number;
  /** Never accepted: the buffer was full, the log was closed, or the entry could not be stored. */
  dropped: number;
  /** Batches that failed twice; their entries are lost (counted in `lost`). */
  failedBatches: number;
  /** Accepted entries that were in a failed batch. */
  lost: number;
}

export interface QueryLog {
  /** Queues the entry and returns at once; never awaits, never throws. */
  record(entry: QueryLogEntry): void;
  /** True while the entry with this id is accepted but not yet written. */
  isPending(queryId: string): boolean;
  /** Resolves once every entry recorded before the call has been written or given up on. Never rejects. */
  flush(): Promise<void>;
  /** Stops the timer, refuses new entries, and flushes what is left. */
  close(): Promise<void>;
  stats(): QueryLogStats;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API_KEY_ID = /^[1-9][0-9]{0,18}$/;

/** What Postgres would refuse and take the whole batch down with it is refused here, one entry at a time. */
function isStorable(entry: QueryLogEntry): boolean {
  return (
    typeof entry.id === 'string' &&
    UUID.test(entry.id) &&
    Array.isArray(entry.resultIds) &&
    entry.resultIds.every((id) => typeof id === 'string' && isImageId(id)) &&
    typeof entry.modelVersion === 'string' &&
    typeof entry.rankerVersion === 'string' &&
    Number.isFinite(entry.latencyMs) &&
    (entry.apiKeyId === null || (typeof entry.apiKeyId === 'string' && API_KEY_ID.test(entry.apiKeyId))) &&
    (entry.callerRef === undefined || entry.callerRef === null || typeof entry.callerRef === 'string')
  );
}

const toRow = (entry: QueryLogEntry) => ({
  id: entry.id,
  query_text: entry.queryText,
  image_ref: entry.imageRef,
  fusion: entry.fusion,
  text_weight: Number.isFinite(entry.textWeight) ? entry.textWeight : null,
  filters: entry.filters ?? {},
  result_ids: entry.resultIds,
  model_version: entry.modelVersion,
  ranker_version: entry.rankerVersion,
  latency_ms: entry.latencyMs,
  partial: entry.partial === true,
  api_key_id: entry.apiKeyId,
  caller_ref: entry.callerRef ?? null,
  created_at:
    entry.createdAt instanceof Date && !Number.isNaN(entry.createdAt.getTime()) ? entry.createdAt : null,
});

// Postgres text and jsonb refuse NUL and lone surrogates, which a client may well send in a query.
// JSON.stringify writes both as \u escapes; an escape is real when an even number of backslashes
// precedes it.
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/gi;
export const toStorableJson = (value: unknown) =>
  JSON.stringify(value).replace(UNSTORABLE_ESCAPE, (_match, backslashes: string, code: string) =>
    code === '0000' ? backslashes : `${backslashes}\\ufffd`,
  );

const INSERT_BATCH = `INSERT INTO search_queries (id, query_text, image_ref, fusion, text_weight, filters, result_ids,
    model_version, ranker_version, latency_ms, partial, api_key_id, caller_ref, created_at)
  SELECT id, query_text, image_ref, fusion, text_weight, coalesce(filters, '{}'), result_ids,
    model_version, ranker_version, latency_ms, partial, api_key_id, caller_ref, coalesce(created_at, now())
  FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, query_text text, image_ref text, fusion text, text_weight real,
    filters jsonb, result_ids bigint[], model_version text, ranker_version text, latency_ms real, partial boolean,
    api_key_id bigint, caller_ref text, created_at timestamptz)
  ON CONFLICT (id) DO NOTHING`;

/**
 * The search log, kept off the latency path: `record` only pushes to a bounded in-memory buffer;
 * a timer (or a full batch) writes the buffer with one multi-row INSERT per batch. When the
 * database is slow or down the buffer fills and new entries are dropped and counted, so a search
 * never waits for, or fails because of, its log row. A crash loses at most the buffer.
 */
export function createQueryLog({
  db,
  maxBuffer = 10_000,
  flushEveryMs = 200,
  batchSize = 500,
  retryDelayMs = 100,
  log = silentLogger,
  onBatchFailed = (error: unknown, entries: number) =>
    log.error('query log batch lost', {
      entries,
      error: error instanceof Error ? error.message : String(error),
    }),
}: QueryLogOptions): QueryLog {
  const buffer: QueryLogEntry[] = [];
  let inFlight: QueryLogEntry[] = [];
  let closed = false;
  let draining: Promise<void> | null = null;
  let kickScheduled = false;
  const counts = { written: 0, dropped: 0, failedBatches: 0, lost: 0 };
  // entries are settled in the order they were accepted, so two counters tell flush() when it is done
  let accepted = 0;
  let settled = 0;
  let waiters: { upTo: number; resolve: () => void }[] = [];

  async function write(batch: QueryLogEntry[]): Promise<void> {
    const payload = toStorableJson(batch.map(toRow));
    try {
      await db.query(INSERT_BATCH, [payload]);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      await db.query(INSERT_BATCH, [payload]);
    }
  }

  function drain(): Promise<void> {
    draining ??= (async () => {
      try {
        while (buffer.length > 0) {
          const batch = buffer.splice(0, batchSize);
          inFlight = batch;
          try {
            await write(batch);
            counts.written += batch.length;
          } catch (error) {
            counts.failedBatches += 1;
            counts.lost += batch.length;
            try {
              onBatchFailed(error, batch.length);
            } catch {
              // a broken reporter must not stop the log
            }
          }
          inFlight = [];
          settled += batch.length;
          const ready = waiters.filter((w) => w.upTo <= settled);
          waiters = waiters.filter((w) => w.upTo > settled);
          for (const waiter of ready) waiter.resolve();
        }
      } finally {
        draining = null;
      }
    })();
    return draining;
  }

  const timer = setInterval(() => {
    if (buffer.length > 0) void drain();
  }, flushEveryMs);
  timer.unref();

  async function flush(): Promise<void> {
    const upTo = accepted;
    if (settled >= upTo) return;
    const done = new Promise<void>((resolve) => waiters.push({ upTo, resolve }));
    void drain();
    await done;
  }

  return {
    record(entry) {
      try {
        if (closed || buffer.length >= maxBuffer || !isStorable(entry)) {
          counts.dropped += 1;
          return;
        }
        buffer.push(entry);
        accepted += 1;
        // a full batch need not wait for the timer, but is started outside the caller's request
        if (buffer.length >= batchSize && !draining && !kickScheduled) {
          kickScheduled = true;
          setImmediate(() => {
            kickScheduled = false;
            void drain();
          });
        }
      } catch {
        counts.dropped += 1;
      }
    },
    isPending(queryId) {
      return buffer.some((e) => e.id === queryId) || inFlight.some((e) => e.id === queryId);
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
    },
    stats: () => ({ buffered: buffer.length + inFlight.length, ...counts }),
  };
}
