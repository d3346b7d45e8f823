import { describe, expect, it } from 'vitest';
import { parseSearchInput } from './search-input.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { extensions?: { code?: string } }).extensions?.code;
  }
  return 'no error';
};

describe('search input', () => {
  it('defaults: EARLY fusion, alpha 0.5, limit 20, offset 0', () => {
    expect(parseSearchInput({ text: 'red' })).toMatchObject({
      fusion: 'EARLY',
      textWeight: 0.5,
      limit: 20,
      offset: 0,
      minSimilarity: null,
    });
    expect(parseSearchInput({ text: 'red', minSimilarity: -1 }).minSimilarity).toBe(-1);
  });

  it('normalises labels and keeps one image source', () => {
    expect(parseSearchInput({ imageId: '12', labels: [' Sky', 'sky'] })).toMatchObject({
      imageId: '12',
      labels: ['sky'],
    });
    expect(code(() => parseSearchInput({ imageId: '1', imageUrl: 'http://x/y.png' }))).toBe('BAD_USER_INPUT');
  });

  it.each([
    ['nothing', {}],
    ['blank text', { text: ' ' }],
    ['alpha -0.1', { text: 'a', textWeight: -0.1 }],
    ['alpha NaN', { text: 'a', textWeight: Number.NaN }],
    ['limit 0', { text: 'a', limit: 0 }],
    ['limit 101', { text: 'a', limit: 101 }],
    ['offset 1001', { text: 'a', offset: 1001 }],
    ['a malformed imageId', { imageId: 'abc' }],
    ['minSimilarity 1.01', { text: 'a', minSimilarity: 1.01 }],
    ['minSimilarity NaN', { text: 'a', minSimilarity: Number.NaN }],
    ['11 labels', { text: 'a', labels: Array.from({ length: 11 }, (_, i) => `l${i}`) }],
  ])('refuses %s with BAD_USER_INPUT', (_name, raw) => {
    expect(code(() => parseSearchInput(raw))).toBe('BAD_USER_INPUT');
  });
});
