import { describe, expect, it } from 'vitest';
import { encodeBatch } from './encode-batch.ts';

/** An encoder that fails any batch holding the byte 0xff, and embeds others as their first byte. */
const fussy = {
  calls: 0,
  async encodeImages(images: Buffer[]) {
    this.calls += 1;
    if (images.some((b) => b[0] === 0xff)) throw new Error('cannot decode');
    return images.map((b) => Float32Array.of(b[0]!));
  },
};

describe('encodeBatch', () => {
  it('answers the batch in one call when it encodes', async () => {
    fussy.calls = 0;
    const out = await encodeBatch(fussy, [Buffer.of(1), Buffer.of(2)]);
    expect(out).toEqual([Float32Array.of(1), Float32Array.of(2)]);
    expect(fussy.calls).toBe(1);
  });

  it('isolates a bad image: its batch-mates keep their vectors, it gets its error', async () => {
    const out = await encodeBatch(fussy, [Buffer.of(1), Buffer.of(0xff), Buffer.of(3)]);
    expect(out[0]).toEqual(Float32Array.of(1));
    expect(out[1]).toBeInstanceOf(Error);
    expect((out[1] as Error).message).toBe('cannot decode');
    expect(out[2]).toEqual(Float32Array.of(3));
  });

  it('does not call the encoder for no images', async () => {
    fussy.calls = 0;
    expect(await encodeBatch(fussy, [])).toEqual([]);
    expect(fussy.calls).toBe(0);
  });
});
