import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { embeddingRows, textFeeds } from './model-io.ts';
import type { TokenizedBatch } from './tokenizer.ts';

// two texts of length 3, dimension 2: token t of row b is [10b + t + 1, 1]
const hidden = new ort.Tensor(
  'float32',
  Float32Array.from([1, 1, 2, 1, 3, 1, 11, 1, 12, 1, 13, 1]),
  [2, 3, 2],
);
const tokens: TokenizedBatch = {
  // row 0: bos, eos, pad; row 1: bos, word, eos
  inputIds: BigInt64Array.from([5n, 9n, 9n, 5n, 7n, 9n]),
  attentionMask: BigInt64Array.from([1n, 1n, 0n, 1n, 1n, 1n]),
  batch: 2,
  length: 3,
};
const unit = (x: number, y: number) => [x / Math.hypot(x, y), y / Math.hypot(x, y)];
const rowsOf = (pooling: Parameters<typeof embeddingRows>[3]) =>
  embeddingRows(hidden, 2, 2, pooling, 'test', tokens, 9).map((r) => Array.from(r));

describe('model io', () => {
  it('pools token-level outputs: first, last, first end token, mean over real tokens', () => {
    const close = (a: number[][], b: number[][]) => {
      for (const [i, row] of a.entries())
        for (const [j, x] of row.entries()) expect(x).toBeCloseTo(b[i]![j]!, 6);
    };
    close(rowsOf('first'), [unit(1, 1), unit(11, 1)]);
    close(rowsOf('last'), [unit(3, 1), unit(13, 1)]);
    close(rowsOf('eos'), [unit(2, 1), unit(13, 1)]);
    close(rowsOf('mean'), [unit(1.5, 1), unit(12, 1)]);
  });

  it('takes [batch, dim] as is and names a wrong dimension', () => {
    const pooled = new ort.Tensor('float32', Float32Array.from([3, 4, 0, 2]), [2, 2]);
    const [a, b] = embeddingRows(pooled, 2, 2, 'none', 'x');
    expect([a![0], a![1], b![0], b![1]].map((x) => Math.round(x! * 1e6) / 1e6)).toEqual([0.6, 0.8, 0, 1]);
    expect(() => embeddingRows(pooled, 2, 3, 'none', 'pooler_output')).toThrow(
      /pooler_output are 2-dimensional but the model's manifest says 3/,
    );
    expect(() => embeddingRows(hidden, 2, 2, 'none', 'last_hidden_state')).toThrow(
      /has shape \[2, 3, 2\], expected \[2, 2\]/,
    );
  });

  it('feeds the attention mask only when the family has one and the graph takes it', () => {
    const clip = { inputIds: 'input_ids', attentionMask: 'attention_mask', output: 'text_embeds' };
    expect(Object.keys(textFeeds(tokens, clip, 'int64', ['input_ids', 'attention_mask']))).toEqual([
      'input_ids',
      'attention_mask',
    ]);
    expect(Object.keys(textFeeds(tokens, clip, 'int64', ['input_ids']))).toEqual(['input_ids']);
    const siglip = { inputIds: 'input_ids', attentionMask: null, output: 'pooler_output' };
    const feeds = textFeeds(tokens, siglip, 'int32', ['input_ids']);
    expect(Object.keys(feeds)).toEqual(['input_ids']);
    expect(feeds.input_ids!.type).toBe('int32');
    expect(feeds.input_ids!.dims).toEqual([2, 3]);
  });
});
