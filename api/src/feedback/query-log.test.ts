import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Queryable } from '../db/database.ts';
import { createQueryLog, type QueryLog, type QueryLogEntry, toStorableJson } from './query-log.ts';

const entry = (overrides: Partial<QueryLogEntry> = {}): QueryLogEntry => ({
  id: randomUUID(),
  queryText: 'red car',
  imageRef: null,
  fusion: null,
  textWeight: null,
  filters: {},
  resultIds: ['3', '1', '2'],
  modelVersion: 'tiny-clip-v1',
  rankerVersion: 'r1',
  latencyMs: 12.5,
  partial: false,
  apiKeyId: null,
  createdAt: new Date(),
  ...overrides,
});

/** A database that keeps the rows of each INSERT, and can be told to fail or to hang. */
function fakeDb() {
  const batches: Record<string, unknown>[][] = [];
  let failures = 0;
  let gate: Promise<void> | null = null;
  const db: Queryable & { batches: typeof batches; failNext(n: number): void; hold(): () => void } = {
    batches,
    failNext(n) {
      failures = n;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        gate = null;
        release();
      };
    },
    async query<Row>(_sql: string, params?: unknown[]) {
      if (gate) await gate;
      if (failures > 0) {
        failures -= 1;
        throw new Error('connection refused');
      }
      const rows = JSON.parse(String(params?.[0])) as Record<string, unknown>[];
      batches.push(rows);
      return { rows: [] as Row[], rowCount: rows.length };
    },
  };
  return db;
}

let log: QueryLog | null = null;
afterEach(async () => {
  await log?.close();
  log = null;
});

describe('query log', () => {
  it('writes 1200 entries in three statements of at most batchSize rows', async () => {
    const db = fakeDb();
    log = createQueryLog({ db, batchSize: 500, flushEveryMs: 60_000 });
    for (let i = 0; i < 1200; i++) log.record(entry());
    await log.flush();
    expect(db.batches.map((b) => b.length)).toEqual([500, 500, 200]);
    expect(log.stats()).toMatchObject({ buffered: 0, written: 1200, dropped: 0, failedBatches: 0 });
  });

  it('writes on its own timer, without anyone calling flush', async () => {
    const db = fakeDb();
    log = createQueryLog({ db, flushEveryMs: 20 });
    log.record(entry());
    log.record(entry());
    await vi.waitFor(() => expect(db.batches.flat()).toHaveLength(2), { timeout: 1000, interval: 10 });
  });

  it('keeps the result ids in the order shown', async () => {
    const db = fakeDb();
    log = createQueryLog({ db });
    log.record(entry({ resultIds: ['9', '4', '7'] }));
    await log.flush();
    expect(db.batches[0]?.[0]?.result_ids).toEqual(['9', '4', '7']);
  });

  it('drops and counts new entries once the buffer is full, and keeps the ones it has', async () => {
    const db = fakeDb();
    const release = db.hold();
    log = createQueryLog({ db, maxBuffer: 100, batchSize: 50, flushEveryMs: 60_000 });
    const first = Array.from({ length: 100 }, () => entry());
    for (const e of first) log.record(e);
    for (let i = 0; i < 25; i++) log.record(entry());
    expect(log.stats()).toMatchObject({ buffered: 100, dropped: 25 });
    release();
    await log.flush();
    expect(db.batches.flat().map((row) => row.id)).toEqual(first.map((e) => e.id));
    expect(log.stats()).toMatchObject({ buffered: 0, written: 100, dropped: 25 });
  });

  it('never throws from record and never rejects from flush, even when every write fails', async () => {
    const query = vi.fn(() => Promise.reject(new Error('database is down')));
    const failing = { query } as unknown as Queryable;
    const onBatchFailed = vi.fn();
    log = createQueryLog({ db: failing, batchSize: 10, retryDelayMs: 1, onBatchFailed });
    for (let i = 0; i < 30; i++) expect(() => log?.record(entry())).not.toThrow();
    // record is a push, not a write: nothing reached the database while the searches ran
    expect(query).not.toHaveBeenCalled();
    await expect(log.flush()).resolves.toBeUndefined();
    expect(log.stats()).toMatchObject({ written: 0, failedBatches: 3, lost: 30, buffered: 0 });
    expect(onBatchFailed).toHaveBeenCalledTimes(3);
  });

  it('retries a failed batch once, so a passing blip loses nothing', async () => {
    const db = fakeDb();
    db.failNext(1);
    log = createQueryLog({ db, retryDelayMs: 1 });
    log.record(entry());
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 1, failedBatches: 0, lost: 0 });
  });

  it('drops, rather than writes, an entry Postgres would refuse along with its whole batch', async () => {
    const db = fakeDb();
    log = createQueryLog({ db });
    const bad = [
      entry({ id: 'not-a-uuid' }),
      entry({ resultIds: ['1', 'abc'] }),
      entry({ resultIds: ['99999999999999999999'] }),
      entry({ latencyMs: Number.NaN }),
      entry({ apiKeyId: 'key-1' }),
      null as unknown as QueryLogEntry,
    ];
    for (const e of bad) log.record(e);
    log.record(entry({ textWeight: Number.POSITIVE_INFINITY }));
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 1, dropped: bad.length });
    expect(db.batches[0]?.[0]?.text_weight).toBeNull();
  });

  it('says an entry is pending until its batch is written', async () => {
    const db = fakeDb();
    const release = db.hold();
    log = createQueryLog({ db, flushEveryMs: 60_000 });
    const e = entry();
    log.record(e);
    expect(log.isPending(e.id)).toBe(true);
    const flushed = log.flush();
    // now in flight, still pending
    expect(log.isPending(e.id)).toBe(true);
    release();
    await flushed;
    expect(log.isPending(e.id)).toBe(false);
  });

  it('refuses entries after close, after writing what it had', async () => {
    const db = fakeDb();
    const closing = createQueryLog({ db, flushEveryMs: 60_000 });
    closing.record(entry());
    await closing.close();
    closing.record(entry());
    expect(closing.stats()).toMatchObject({ written: 1, dropped: 1 });
  });
});

describe('toStorableJson', () => {
  it('removes NUL and replaces lone surrogates, which Postgres refuses, and keeps the rest', () => {
    const value = { text: 'a\u0000b\ud800c 😀', literal: 'back\\u0000slash', key: '\\\u0000' };
    const stored = JSON.parse(toStorableJson(value));
    expect(stored).toEqual({ text: 'ab\ufffdc 😀', literal: 'back\\u0000slash', key: '\\' });
  });
});
