/**
 * The graph side of a manifest: the feeds a text tower gets (input ids, and the attention mask
 * only when the family feeds one), and how a tower's output becomes one unit vector per input
 * (pooling, shape and dimension checks). Pure functions over onnxruntime tensors; the sessions
 * themselves are onnx-session.ts's.
 */
import * as ort from 'onnxruntime-node';
import { normalizeRows } from '../../../search-cluster/src/index.ts';
import type { ModelManifest, Pooling } from './manifest.ts';
import type { TokenizedBatch } from './tokenizer.ts';

export type IdsType = 'int64' | 'int32';

/** Display names of the families, for error messages. */
export const FAMILY_NAMES: Record<ModelManifest['family'], string> = {
  clip: 'CLIP',
  siglip: 'SigLIP',
  siglip2: 'SigLIP 2',
  mobileclip: 'MobileCLIP',
};

/** Feeds of the text tower: input ids, plus the attention mask when the graph takes one. */
export function textFeeds(
  tokens: TokenizedBatch,
  io: ModelManifest['io']['text'],
  idsType: IdsType,
  graphInputs: readonly string[],
): Record<string, ort.Tensor> {
  const dims = [tokens.batch, tokens.length];
  const toTensor = (values: BigInt64Array) =>
    idsType === 'int64'
      ? new ort.Tensor('int64', values, dims)
      : new ort.Tensor('int32', Int32Array.from(values, Number), dims);
  const feeds: Record<string, ort.Tensor> = { [io.inputIds]: toTensor(tokens.inputIds) };
  if (io.attentionMask !== null && graphInputs.includes(io.attentionMask)) {
    feeds[io.attentionMask] = toTensor(tokens.attentionMask);
  }
  return feeds;
}

/** The inputs a tower must have, and the output it must give, by its manifest. */
export function expectedIo(manifest: ModelManifest): {
  text: { required: string[]; optional: string[]; output: string };
  vision: { required: string[]; output: string };
} {
  const { text, vision } = manifest.io;
  return {
    // CLIP exports exist with and without attention_mask: feed it when the graph has it
    text: {
      required: [text.inputIds],
      optional: text.attentionMask ? [text.attentionMask] : [],
      output: text.output,
    },
    vision: { required: [vision.pixelValues], output: vision.output },
  };
}

/** Per row, the position of the first end token (else the last real token), for `eos` pooling. */
function eosPositions(tokens: TokenizedBatch, length: number, eosId: number | null): number[] {
  return Array.from({ length: tokens.batch }, (_, b) => {
    let last = 0;
    for (let i = 0; i < length; i++) {
      if (eosId !== null && Number(tokens.inputIds[b * length + i]) === eosId) return i;
      if (tokens.attentionMask[b * length + i] === 1n) last = i;
    }
    return last;
  });
}

/**
 * One L2-normalised vector per input from a tower's output: [batch, dim] as is (`none`), or
 * pooled from [batch, length, dim] (`first`, `last`, `eos` = the first end token, `mean` over
 * real tokens for text, over all positions for vision). A zero or NaN row throws: indexing or
 * searching it would give an arbitrary ranking.
 */
export function embeddingRows(
  tensor: ort.Tensor,
  expectedRows: number,
  dimension: number,
  pooling: Pooling,
  what: string,
  tokens: TokenizedBatch | null = null,
  eosId: number | null = null,
): Float32Array[] {
  const data = tensor.data as Float32Array;
  const dims = tensor.dims;
  if (pooling === 'none' || dims.length === 2) {
    const [n, d] = dims;
    if (dims.length === 2 && n === expectedRows && d !== dimension) {
      throw new Error(`${what} are ${d}-dimensional but the model's manifest says ${dimension}`);
    }
    if (dims.length !== 2 || n !== expectedRows || d !== dimension) {
      throw new Error(`${what} has shape [${dims.join(', ')}], expected [${expectedRows}, ${dimension}]`);
    }
    return Array.from({ length: n }, (_, i) => normalizeRows(data.slice(i * d, (i + 1) * d), d));
  }
  const [n, length, d] = dims as readonly number[];
  if (dims.length !== 3 || n !== expectedRows || d !== dimension) {
    throw new Error(
      `${what} has shape [${dims.join(', ')}], expected [${expectedRows}, length, ${dimension}] for ${pooling} pooling`,
    );
  }
  const positions = pooling === 'eos' && tokens ? eosPositions(tokens, length!, eosId) : null;
  return Array.from({ length: n! }, (_, b) => {
    const row = new Float32Array(d!);
    const base = b * length! * d!;
    if (pooling === 'mean') {
      let count = 0;
      for (let i = 0; i < length!; i++) {
        if (tokens && tokens.attentionMask[b * length! + i] !== 1n) continue;
        count++;
        for (let j = 0; j < d!; j++) row[j]! += data[base + i * d! + j]!;
      }
      for (let j = 0; j < d!; j++) row[j]! /= Math.max(1, count);
    } else {
      const at = positions?.[b] ?? (pooling === 'last' ? length! - 1 : 0);
      row.set(data.subarray(base + at * d!, base + (at + 1) * d!));
    }
    return normalizeRows(row, d!);
  });
}
