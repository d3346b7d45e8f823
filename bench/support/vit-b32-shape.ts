/**
 * A ViT-B/32 image tower of CLIP's shape (patch 32, width 768, 12 layers, 12 heads, MLP 3072,
 * 224 x 224 input, 512-d projection) with seeded random weights, written with the project's
 * ONNX writer: what an image encode of CLIP ViT-B/32 costs on onnxruntime, measured here without
 * the real weights (none are reachable offline), since the time of a forward pass does not depend
 * on the values of the weights. ~88 M parameters, ~350 MB: generated on demand into a cache
 * directory (data/ is git-ignored), never committed.
 *
 * The graph is the one of Hugging Face's CLIPVisionModelWithProjection: patch convolution without
 * bias, class token, position embeddings, pre-LayerNorm, 12 pre-norm blocks (fused QKV projection,
 * scaled dot-product attention, QuickGELU MLP), LayerNorm of the class token, projection without
 * bias. Its FLOPs are those of the paper's ViT-B/32 (~4.4 GFLOPs at 224 x 224).
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataType, type Model, type Node, serializeModel } from '../../api/src/encoder/onnx/onnx-writer.ts';
import { seededRandom } from '../../search-cluster/src/faiss/synthetic.ts';
import { writeFileAtomic } from '../../search-cluster/src/index.ts';
import { float, int64, node, OPSET } from '../../test/fixtures/tiny-clip/model.ts';

export const VIT_B32 = {
  imageSize: 224,
  patch: 32,
  width: 768,
  layers: 12,
  heads: 12,
  mlp: 3072,
  projection: 512,
} as const;

/** Where the bench keeps the generated model (a git-ignored cache, shared by later runs). */
export const VIT_B32_CACHE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../data/cache/bench/vit-b32-random-weights-v1.onnx',
);

/** `count` seeded uniform values with standard deviation `std` (the init scale of a transformer). */
function weights(count: number, seed: number, std = 0.02): Float32Array {
  const random = seededRandom(seed);
  const half = std * Math.sqrt(3);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (random() * 2 - 1) * half;
  return out;
}

const filled = (count: number, value: number) => new Float32Array(count).fill(value);

export function buildVitB32Model(seed = 32): Model {
  const { imageSize, patch, width, layers, heads, mlp, projection } = VIT_B32;
  const grid = imageSize / patch;
  const tokens = grid * grid + 1;
  const headDim = width / heads;
  let nextSeed = seed;
  const random = (name: string, dims: number[]) =>
    float(
      name,
      dims,
      weights(
        dims.reduce((a, b) => a * b, 1),
        nextSeed++,
      ),
    );
  const layerNorm = (prefix: string) => [
    float(`${prefix}.weight`, [width], filled(width, 1)),
    float(`${prefix}.bias`, [width], filled(width, 0)),
  ];
  const ln = (prefix: string, input: string, output: string): Node =>
    node('LayerNormalization', [input, `${prefix}.weight`, `${prefix}.bias`], [output], {
      axis: -1,
      epsilon: { float: 1e-5 },
    });

  const initializers = [
    random('patch.weight', [width, 3, patch, patch]),
    random('class_embedding', [1, 1, width]),
    random('position_embedding', [1, tokens, width]),
    ...layerNorm('ln_pre'),
    ...layerNorm('ln_post'),
    random('projection.weight', [width, projection]),
    int64('patch_shape', [3], [0, width, grid * grid]),
    int64('heads_shape', [4], [0, tokens, heads, headDim]),
    int64('width_shape', [3], [0, tokens, width]),
    int64('batch_index', [1], [0]),
    int64('class_shape_tail', [2], [1, width]),
    int64('class_index', [], [0]),
    float('attention_scale', [], [1 / Math.sqrt(headDim)]),
    float('quick_gelu', [], [1.702]),
  ];
  const nodes: Node[] = [
    node('Conv', ['pixel_values', 'patch.weight'], ['patches'], {
      kernel_shape: [patch, patch],
      strides: [patch, patch],
    }), // [B,768,7,7]
    node('Reshape', ['patches', 'patch_shape'], ['patch_rows']), // [B,768,49]
    node('Transpose', ['patch_rows'], ['patch_tokens'], { perm: [0, 2, 1] }), // [B,49,768]
    node('Shape', ['patch_tokens'], ['tokens_shape']),
    node('Gather', ['tokens_shape', 'batch_index'], ['batch'], { axis: 0 }),
    node('Concat', ['batch', 'class_shape_tail'], ['class_shape'], { axis: 0 }),
    node('Expand', ['class_embedding', 'class_shape'], ['class_tokens']), // [B,1,768]
    node('Concat', ['class_tokens', 'patch_tokens'], ['embedded'], { axis: 1 }), // [B,50,768]
    node('Add', ['embedded', 'position_embedding'], ['positioned']),
    ln('ln_pre', 'positioned', 'x0'),
  ];
  for (let l = 0; l < layers; l++) {
    const p = `layer${l}`;
    const x = `x${l}`;
    initializers.push(
      ...layerNorm(`${p}.ln1`),
      random(`${p}.qkv.weight`, [width, 3 * width]),
      float(`${p}.qkv.bias`, [3 * width], filled(3 * width, 0)),
      random(`${p}.out.weight`, [width, width]),
      float(`${p}.out.bias`, [width], filled(width, 0)),
      ...layerNorm(`${p}.ln2`),
      random(`${p}.fc1.weight`, [width, mlp]),
      float(`${p}.fc1.bias`, [mlp], filled(mlp, 0)),
      random(`${p}.fc2.weight`, [mlp, width]),
      float(`${p}.fc2.bias`, [width], filled(width, 0)),
    );
    const t = (name: string) => `${p}.${name}`;
    nodes.push(
      ln(`${p}.ln1`, x, t('h')),
      node('MatMul', [t('h'), `${p}.qkv.weight`], [t('qkv_raw')]),
      node('Add', [t('qkv_raw'), `${p}.qkv.bias`], [t('qkv')]),
      node('Split', [t('qkv')], [t('q'), t('k'), t('v')], { axis: 2 }),
      node('Reshape', [t('q'), 'heads_shape'], [t('q_heads')]),
      node('Transpose', [t('q_heads')], [t('q_t')], { perm: [0, 2, 1, 3] }), // [B,12,50,64]
      node('Reshape', [t('k'), 'heads_shape'], [t('k_heads')]),
      node('Transpose', [t('k_heads')], [t('k_t')], { perm: [0, 2, 3, 1] }), // [B,12,64,50]
      node('Reshape', [t('v'), 'heads_shape'], [t('v_heads')]),
      node('Transpose', [t('v_heads')], [t('v_t')], { perm: [0, 2, 1, 3] }),
      node('MatMul', [t('q_t'), t('k_t')], [t('scores_raw')]),
      node('Mul', [t('scores_raw'), 'attention_scale'], [t('scores')]),
      node('Softmax', [t('scores')], [t('attention')], { axis: -1 }),
      node('MatMul', [t('attention'), t('v_t')], [t('context_t')]),
      node('Transpose', [t('context_t')], [t('context_heads')], { perm: [0, 2, 1, 3] }),
      node('Reshape', [t('context_heads'), 'width_shape'], [t('context')]),
      node('MatMul', [t('context'), `${p}.out.weight`], [t('attended_raw')]),
      node('Add', [t('attended_raw'), `${p}.out.bias`], [t('attended')]),
      node('Add', [x, t('attended')], [t('residual')]),
      ln(`${p}.ln2`, t('residual'), t('h2')),
      node('MatMul', [t('h2'), `${p}.fc1.weight`], [t('fc1_raw')]),
      node('Add', [t('fc1_raw'), `${p}.fc1.bias`], [t('fc1')]),
      node('Mul', [t('fc1'), 'quick_gelu'], [t('gate_in')]),
      node('Sigmoid', [t('gate_in')], [t('gate')]),
      node('Mul', [t('fc1'), t('gate')], [t('gelu')]),
      node('MatMul', [t('gelu'), `${p}.fc2.weight`], [t('fc2_raw')]),
      node('Add', [t('fc2_raw'), `${p}.fc2.bias`], [t('mlp_out')]),
      node('Add', [t('residual'), t('mlp_out')], [`x${l + 1}`]),
    );
  }
  nodes.push(
    node('Gather', [`x${layers}`, 'class_index'], ['pooled'], { axis: 1 }), // [B,768]
    ln('ln_post', 'pooled', 'pooled_norm'),
    node('MatMul', ['pooled_norm', 'projection.weight'], ['image_embeds']),
  );
  return {
    opsetVersion: OPSET,
    producerName: 'pixelfind-bench',
    producerVersion: '1',
    docString: 'ViT-B/32 image tower of CLIP shape with seeded random weights: for timing only.',
    graph: {
      name: 'vit_b32_random_weights',
      nodes,
      initializers,
      inputs: [
        { name: 'pixel_values', elemType: DataType.FLOAT, shape: ['batch_size', 3, imageSize, imageSize] },
      ],
      outputs: [{ name: 'image_embeds', elemType: DataType.FLOAT, shape: ['batch_size', projection] }],
    },
  };
}

/**
 * The cached model file, generated first when it is missing (~350 MB; written atomically, so a
 * file that is there is whole). Change the file name when the graph changes.
 */
export async function ensureVitB32Model(file = VIT_B32_CACHE): Promise<string> {
  const present = await stat(file).then(
    () => true,
    () => false,
  );
  if (!present) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, serializeModel(buildVitB32Model()));
  }
  return file;
}

/** Parameters of the tower: 87.8 M for ViT-B/32 (a check that the shapes are CLIP's). */
export function parameterCount(model: Model): number {
  return model.graph.initializers
    .filter((t) => t.dataType === DataType.FLOAT)
    .reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
}

/**
 * Multiply-adds of one 224 x 224 image through the tower, counted from its shapes (patch
 * convolution, QKV, attention scores and context, output projection, MLP, final projection;
 * LayerNorm, softmax and activations left out): ~4.41 G, the "4.4 GFLOPs" quoted for ViT-B/32.
 */
export function vitB32MultiplyAdds(): number {
  const { imageSize, patch, width, layers, mlp, projection } = VIT_B32;
  const patches = (imageSize / patch) ** 2;
  const tokens = patches + 1;
  const perLayer =
    tokens * width * 3 * width + // QKV
    2 * tokens * tokens * width + // scores and context, over all heads
    tokens * width * width + // output projection
    2 * tokens * width * mlp; // MLP
  return patches * width * 3 * patch * patch + layers * perLayer + width * projection;
}
