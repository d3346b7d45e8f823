import { describe, expect, it } from 'vitest';
import { IdTable } from './int64.ts';
import { partitionIds, shardOf } from './partition.ts';

describe('shardOf', () => {
  it('is pinned: changing it would re-shard every index on disk', () => {
    const ids = [0n, 1n, 2n, 3n, 42n, 1_000_000n, 2n ** 40n + 7n, 2n ** 63n - 1n];
    expect(ids.map((id) => shardOf(id, 4))).toMatchInlineSnapshot(`
      [
        3,
        3,
        2,
        0,
        2,
        1,
        3,
        0,
      ]
    `);
    expect(ids.map((id) => shardOf(id, 7))).toMatchInlineSnapshot(`
      [
        3,
        3,
        2,
        6,
        2,
        1,
        3,
        5,
      ]
    `);
    expect(ids.map((id) => shardOf(id, 1))).toEqual(ids.map(() => 0));
  });

  it('spreads sequential ids evenly', () => {
    const counts = new Array(8).fill(0);
    for (let id = 1n; id <= 80_000n; id++) counts[shardOf(id, 8)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
  });

  it('moves only about 1/(n+1) of the ids, all to the new shard, when a shard is added', () => {
    let moved = 0;
    for (let id = 1n; id <= 20_000n; id++) {
      const before = shardOf(id, 4);
      const after = shardOf(id, 5);
      if (before !== after) {
        moved++;
        expect(after).toBe(4);
      }
    }
    expect(moved / 20_000).toBeGreaterThan(0.17);
    expect(moved / 20_000).toBeLessThan(0.23);
  });

  it('partitionIds agrees with shardOf', () => {
    const ids = BigInt64Array.from({ length: 1000 }, (_, i) => BigInt(i * 7919));
    const parts = partitionIds(ids, 3);
    expect(parts.reduce((n, p) => n + p.length, 0)).toBe(1000);
    parts.forEach((part, s) => {
      for (const id of part) expect(shardOf(id, 3)).toBe(s);
    });
  });
});

describe('IdTable', () => {
  it('finds every id and nothing else', () => {
    const ids = BigInt64Array.from(
      { length: 5000 },
      (_, i) => BigInt(i) * 1_000_003n + (i % 2 ? 2n ** 40n : 0n),
    );
    const table = new IdTable(ids);
    for (const [row, id] of ids.entries()) expect(table.rowOf(id)).toBe(row);
    expect(table.rowOf(1n)).toBe(-1);
    expect(table.rowOf(2n ** 62n)).toBe(-1);
    expect(() => new IdTable(BigInt64Array.of(5n, 5n))).toThrow(/duplicate id 5/);
  });

  it('finds every id and nothing else when the ids fill a dense range (the direct array)', () => {
    // a shard's share of sequential ids above 2^32, in no order, with gaps
    const base = 2n ** 33n - 700n;
    const ids = BigInt64Array.from({ length: 3000 }, (_, i) => base + BigInt((i * 7919) % 9000));
    const table = new IdTable(ids);
    for (const [row, id] of ids.entries()) expect(table.rowOf(id)).toBe(row);
    for (const id of [base - 1n, base + 9000n, base + 1n, 2n ** 32n + 5n, -1n, 2n ** 63n - 1n]) {
      if (!ids.includes(id)) expect(table.rowOf(id)).toBe(-1);
    }
    expect(() => new IdTable(BigInt64Array.of(9n, 10n, 9n))).toThrow(/duplicate id 9/);
  });
});
