import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyClip } from '../../../test/fixtures/tiny-clip/generate.ts';
import { TextTokenizer } from './tokenizer.ts';

const casesFile = path.resolve(import.meta.dirname, '../../../test/fixtures/tiny-clip/tokenizer-cases.json');

interface Case {
  text: string;
  ids: number[];
  why: string;
}

describe('tiny CLIP tokenizer', () => {
  let tokenizer: TextTokenizer;
  let cases: Case[];

  beforeAll(async () => {
    const dir = await ensureTinyClip();
    tokenizer = await TextTokenizer.load(
      path.join(dir, 'tokenizer.json'),
      path.join(dir, 'tokenizer_config.json'),
      77,
    );
    cases = JSON.parse(await readFile(casesFile, 'utf8')).cases;
  });

  it('matches every id in the hand-written table', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const c of cases)
      expect({ text: c.text, ids: tokenizer.encode(c.text) }).toEqual({ text: c.text, ids: c.ids });
  });

  it('cuts long texts to the 77-token context and keeps the end token', () => {
    const ids = tokenizer.encode('red '.repeat(100));
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(512);
    expect(ids.slice(1, 76).every((id) => id === 514)).toBe(true);
    expect(ids[76]).toBe(513);
  });

  it('pads a batch with the end token and masks the padding', () => {
    const batch = tokenizer.pad([tokenizer.encode('red'), tokenizer.encode('red top')]);
    expect(batch.length).toBe(4);
    expect(Array.from(batch.inputIds, Number)).toEqual([512, 514, 513, 513, 512, 514, 524, 513]);
    expect(Array.from(batch.attentionMask, Number)).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);
  });
});
