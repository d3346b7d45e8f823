import { afterEach, describe, expect, it } from 'vitest';
import type { Cache } from './cache.ts';
import { createMemoryCache } from './memory-cache.ts';

const buf = (text: string) => Buffer.from(text, 'utf8');
const text = async (cache: Cache, key: string) => (await cache.getBuffer(key))?.toString('utf8') ?? null;

describe('memory cache', () => {
  let cache: Cache;
  afterEach(async () => {
    await cache.close();
  });

  it('evicts the least recently used value, not the oldest inserted', async () => {
    cache = createMemoryCache({ maxEntries: 2 });
    await cache.setBuffer('a', buf('A'), 0);
    await cache.setBuffer('b', buf('B'), 0);
    expect(await text(cache, 'a')).toBe('A'); // a is now the most recently used
    await cache.setBuffer('c', buf('C'), 0);
    expect(await text(cache, 'b')).toBeNull();
    expect(await text(cache, 'a')).toBe('A');
    expect(await text(cache, 'c')).toBe('C');
  });

  it('never returns an expired value and keeps values without a TTL', async () => {
    let now = 1_000;
    cache = createMemoryCache({ clock: { now: () => now } });
    await cache.setBuffer('short', buf('S'), 10);
    await cache.setBuffer('forever', buf('F'), 0);
    now += 9_000;
    expect(await text(cache, 'short')).toBe('S');
    now += 2_000;
    expect(await text(cache, 'short')).toBeNull();
    now += 365 * 24 * 3600 * 1000;
    expect(await text(cache, 'forever')).toBe('F');
  });

  it('stays under its byte budget', async () => {
    cache = createMemoryCache({ maxBytes: 1_000 });
    for (let i = 0; i < 10; i++) await cache.setBuffer(`k${i}`, Buffer.alloc(300, i), 0);
    const kept = [];
    for (let i = 0; i < 10; i++) if (await cache.getBuffer(`k${i}`)) kept.push(i);
    expect(kept).toEqual([7, 8, 9]);
  });

  it('keeps a copy: changing the buffer passed in changes nothing stored', async () => {
    cache = createMemoryCache();
    const value = buf('abc');
    await cache.setBuffer('k', value, 0);
    value.write('xyz');
    expect(await text(cache, 'k')).toBe('abc');
  });
});
