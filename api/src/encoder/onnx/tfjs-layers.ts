/**
 * Converts a TensorFlow.js layers model (Keras JSON topology + weight manifest) to ONNX, for the
 * layer kinds of nsfwjs' MobileNetV2: InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D,
 * BatchNormalization, ReLU, Add, AveragePooling2D, Flatten, Dense, Dropout. Anything else is
 * refused by name, so a new nsfwjs model fails loudly instead of converting wrongly.
 *
 * Keras computes in NHWC; the ONNX graph takes the same NHWC input (as uint8 RGB, scaled to [0,1]
 * inside the graph as nsfwjs does: x / 255), transposes once to NCHW and runs there. Weights are
 * dequantised exactly as TF.js does (q * scale + min, in double, stored as float32).
 */
import { DataType, type DataTypeCode, type Model, type Node, type Tensor } from './onnx-writer.ts';

/** The parts of a TF.js `model.json` the converter reads. */
export interface LayersModelJson {
  modelTopology: {
    model_config: {
      class_name: string;
      config: {
        layers: KerasLayer[];
        input_layers: [string, number, number][];
        output_layers: [string, number, number][];
      };
    };
  };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

interface KerasLayer {
  name: string;
  class_name: string;
  // biome-ignore lint/suspicious/noExplicitAny: Keras layer configs differ per class
  config: Record<string, any>;
  inbound_nodes: [string, number, number, unknown][][];
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

export interface ConvertOptions {
  /** name of the uint8 NHWC input; default `pixels` */
  inputName?: string;
  /** name of the output; default `probabilities` */
  outputName?: string;
  producerVersion?: string;
  metadata?: Record<string, string>;
}

/** Decodes the weight bytes (all shards, concatenated in manifest order) to float32 tensors by name. */
export function decodeWeights(json: LayersModelJson, data: Uint8Array): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of json.weightsManifest.flatMap((group) => group.weights)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype !== 'float32') throw new Error(`Weight ${spec.name}: unsupported dtype ${spec.dtype}`);
    const q = spec.quantization;
    let values: Float32Array;
    if (!q) {
      values = new Float32Array(data.slice(offset, offset + size * 4).buffer);
      offset += size * 4;
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      const width = q.dtype === 'uint8' ? 1 : 2;
      const bytes = data.slice(offset, offset + size * width);
      const quantized = width === 1 ? bytes : new Uint16Array(bytes.buffer);
      const { scale = 1, min = 0 } = q;
      values = new Float32Array(size);
      for (let i = 0; i < size; i++) values[i] = quantized[i]! * scale + min;
      offset += size * width;
    } else {
      throw new Error(`Weight ${spec.name}: unsupported quantization ${q.dtype}`);
    }
    if (values.length !== size) throw new Error(`Weight ${spec.name}: the weight data ends early`);
    weights.set(spec.name, values);
  }
  if (offset !== data.length) {
    throw new Error(`The weight data holds ${data.length} bytes but the manifest describes ${offset}`);
  }
  return weights;
}

/** [d0, d1, d2, d3] row-major -> the axes in `perm` order, e.g. HWIO -> OIHW is [3, 2, 0, 1]. */
function transpose4(values: Float32Array, dims: number[], perm: number[]): Float32Array {
  const out = new Float32Array(values.length);
  const outDims = perm.map((p) => dims[p]!);
  const stride = [dims[1]! * dims[2]! * dims[3]!, dims[2]! * dims[3]!, dims[3]!, 1];
  const idx = [0, 0, 0, 0];
  let o = 0;
  for (idx[0] = 0; idx[0] < outDims[0]!; idx[0]++)
    for (idx[1] = 0; idx[1] < outDims[1]!; idx[1]++)
      for (idx[2] = 0; idx[2] < outDims[2]!; idx[2]++)
        for (idx[3] = 0; idx[3] < outDims[3]!; idx[3]++) {
          let i = 0;
          for (let a = 0; a < 4; a++) i += idx[a]! * stride[perm[a]!]!;
          out[o++] = values[i]!;
        }
  return out;
}

/** Builds the ONNX model of a TF.js layers model with an NHWC image input. */
export function convertLayersModel(
  json: LayersModelJson,
  weightData: Uint8Array,
  options: ConvertOptions = {},
): Model {
  const inputName = options.inputName ?? 'pixels';
  const outputName = options.outputName ?? 'probabilities';
  const weights = decodeWeights(json, weightData);
  const { layers, input_layers, output_layers } = json.modelTopology.model_config.config;
  if (input_layers.length !== 1 || output_layers.length !== 1) {
    throw new Error('Expected a model with one input and one output');
  }
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  /** Keras layer name -> ONNX value name of its output and its NCHW shape (without the batch). */
  const values = new Map<string, { name: string; shape: number[] }>();
  const weight = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`Weight ${name} is missing from the manifest`);
    return w;
  };
  const constant = (
    name: string,
    dims: number[],
    v: ArrayLike<number>,
    dataType: DataTypeCode = DataType.FLOAT,
  ) => {
    initializers.push({ name, dims, dataType, values: v });
    return name;
  };
  let inputShape: number[] = [];

  for (const layer of layers) {
    const c = layer.config;
    const inbound = (layer.inbound_nodes[0] ?? []).map(([name]) => {
      const value = values.get(name);
      if (!value) throw new Error(`Layer ${layer.name}: input ${name} comes later in the topology`);
      return value;
    });
    const [x] = inbound;
    const out = layer.name;
    const set = (shape: number[], name = out) => values.set(layer.name, { name, shape });
    const activation = (name: string, kind: string | undefined, shape: number[]) => {
      if (!kind || kind === 'linear') return set(shape, name);
      const op = { relu: 'Relu', softmax: 'Softmax', sigmoid: 'Sigmoid' }[kind];
      if (!op) throw new Error(`Layer ${layer.name}: unsupported activation ${kind}`);
      nodes.push({
        opType: op,
        inputs: [name],
        outputs: [`${out}/${kind}`],
        ...(op === 'Softmax' ? { attributes: { axis: -1 } } : {}),
      });
      set(shape, `${out}/${kind}`);
    };
    if (layer.class_name !== 'InputLayer' && !x) throw new Error(`Layer ${layer.name} has no input`);

    switch (layer.class_name) {
      case 'InputLayer': {
        const [, h, w, ch] = c.batch_input_shape as number[];
        inputShape = [h!, w!, ch!];
        nodes.push({
          opType: 'Cast',
          inputs: [inputName],
          outputs: ['input/float'],
          attributes: { to: DataType.FLOAT },
        });
        nodes.push({
          opType: 'Div',
          inputs: ['input/float', constant('input/255', [], [255])],
          outputs: ['input/scaled'],
        });
        nodes.push({
          opType: 'Transpose',
          inputs: ['input/scaled'],
          outputs: [out],
          attributes: { perm: [0, 3, 1, 2] },
        });
        set([ch!, h!, w!]);
        break;
      }
      case 'ZeroPadding2D': {
        const [[top, bottom], [left, right]] = c.padding as [[number, number], [number, number]];
        const pads = constant(`${out}/pads`, [8], [0, 0, top, left, 0, 0, bottom, right], DataType.INT64);
        nodes.push({
          opType: 'Pad',
          inputs: [x!.name, pads],
          outputs: [out],
          attributes: { mode: 'constant' },
        });
        const [ch, h, w] = x!.shape as [number, number, number];
        set([ch, h + top + bottom, w + left + right]);
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        const [ch, h, w] = x!.shape as [number, number, number];
        const [kh, kw] = c.kernel_size as [number, number];
        const [sh, sw] = c.strides as [number, number];
        if ((c.dilation_rate as number[]).some((d) => d !== 1))
          throw new Error(`Layer ${layer.name}: dilation`);
        const kernel = weight(`${out}/${depthwise ? 'depthwise_kernel' : 'kernel'}`);
        // Keras HWIO -> ONNX OIHW. A depthwise [kh, kw, C, m] kernel is read as [kh, kw, C*m, 1]
        // (output channel c*m + j, the same memory order), which transposes to [1, C*m, kh, kw],
        // the memory order of ONNX's grouped [C*m, 1, kh, kw].
        const filters = depthwise ? ch * (c.depth_multiplier as number) : (c.filters as number);
        const keras = depthwise ? [kh, kw, filters, 1] : [kh, kw, ch, filters];
        const wDims = depthwise ? [filters, 1, kh, kw] : [filters, ch, kh, kw];
        const group = depthwise ? ch : 1;
        const inputs = [x!.name, constant(`${out}/W`, wDims, transpose4(kernel, keras, [3, 2, 0, 1]))];
        if (c.use_bias) inputs.push(constant(`${out}/B`, [filters], weight(`${out}/bias`)));
        // Keras "same": out = ceil(in / stride), the extra pixel of an odd total at the end (as TF)
        const padFor = (size: number, k: number, s: number) => {
          if (c.padding !== 'same') return [0, 0];
          const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
          return [Math.floor(total / 2), total - Math.floor(total / 2)];
        };
        if (c.padding !== 'same' && c.padding !== 'valid')
          throw new Error(`Layer ${layer.name}: padding ${c.padding}`);
        const [pt, pb] = padFor(h, kh, sh);
        const [pl, pr] = padFor(w, kw, sw);
        nodes.push({
          opType: 'Conv',
          inputs,
          outputs: [`${out}/conv`],
          attributes: { kernel_shape: [kh, kw], strides: [sh, sw], pads: [pt!, pl!, pb!, pr!], group },
        });
        const oh = Math.floor((h + pt! + pb! - kh) / sh) + 1;
        const ow = Math.floor((w + pl! + pr! - kw) / sw) + 1;
        activation(`${out}/conv`, c.activation, [filters, oh, ow]);
        break;
      }
      case 'BatchNormalization': {
        if (c.axis !== -1 && c.axis !== 3) throw new Error(`Layer ${layer.name}: axis ${c.axis}`);
        const [ch] = x!.shape as [number];
        const ones = new Float32Array(ch).fill(1);
        const zeros = new Float32Array(ch);
        nodes.push({
          opType: 'BatchNormalization',
          inputs: [
            x!.name,
            constant(`${out}/scale`, [ch], c.scale ? weight(`${out}/gamma`) : ones),
            constant(`${out}/bias`, [ch], c.center ? weight(`${out}/beta`) : zeros),
            constant(`${out}/mean`, [ch], weight(`${out}/moving_mean`)),
            constant(`${out}/var`, [ch], weight(`${out}/moving_variance`)),
          ],
          outputs: [out],
          attributes: { epsilon: { float: c.epsilon as number } },
        });
        set(x!.shape);
        break;
      }
      case 'ReLU': {
        if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) {
          throw new Error(`Layer ${layer.name}: leaky or thresholded ReLU`);
        }
        if (c.max_value == null) {
          nodes.push({ opType: 'Relu', inputs: [x!.name], outputs: [out] });
        } else {
          const lo = constant(`${out}/min`, [], [0]);
          const hi = constant(`${out}/max`, [], [c.max_value as number]);
          nodes.push({ opType: 'Clip', inputs: [x!.name, lo, hi], outputs: [out] });
        }
        set(x!.shape);
        break;
      }
      case 'Add': {
        nodes.push({ opType: 'Sum', inputs: inbound.map((v) => v.name), outputs: [out] });
        set(x!.shape);
        break;
      }
      case 'AveragePooling2D': {
        if (c.padding !== 'valid') throw new Error(`Layer ${layer.name}: padding ${c.padding}`);
        const [kh, kw] = c.pool_size as [number, number];
        const [sh, sw] = (c.strides ?? c.pool_size) as [number, number];
        const [ch, h, w] = x!.shape as [number, number, number];
        nodes.push({
          opType: 'AveragePool',
          inputs: [x!.name],
          outputs: [out],
          attributes: { kernel_shape: [kh, kw], strides: [sh, sw] },
        });
        set([ch, Math.floor((h - kh) / sh) + 1, Math.floor((w - kw) / sw) + 1]);
        break;
      }
      case 'Flatten': {
        const [ch, h, w] = x!.shape as [number, number, number];
        let source = x!.name;
        if (h * w !== 1) {
          // Keras flattens NHWC: go back to that order first
          nodes.push({
            opType: 'Transpose',
            inputs: [source],
            outputs: [`${out}/nhwc`],
            attributes: { perm: [0, 2, 3, 1] },
          });
          source = `${out}/nhwc`;
        }
        nodes.push({ opType: 'Flatten', inputs: [source], outputs: [out], attributes: { axis: 1 } });
        set([ch * h * w]);
        break;
      }
      case 'Dense': {
        const [features] = x!.shape as [number];
        const units = c.units as number;
        const inputs = [x!.name, constant(`${out}/W`, [features, units], weight(`${out}/kernel`))];
        inputs.push(
          constant(`${out}/B`, [units], c.use_bias ? weight(`${out}/bias`) : new Float32Array(units)),
        );
        nodes.push({ opType: 'Gemm', inputs, outputs: [`${out}/gemm`] });
        activation(`${out}/gemm`, c.activation, [units]);
        break;
      }
      case 'Dropout':
        set(x!.shape, x!.name);
        break;
      default:
        throw new Error(`Layer ${layer.name}: the converter does not know ${layer.class_name}`);
    }
  }

  const output = values.get(output_layers[0]![0]);
  if (!output) throw new Error(`The output layer ${output_layers[0]![0]} was not converted`);
  nodes.push({ opType: 'Identity', inputs: [output.name], outputs: [outputName] });
  return {
    graph: {
      name: 'tfjs-layers',
      nodes,
      initializers,
      inputs: [{ name: inputName, elemType: DataType.UINT8, shape: ['batch', ...inputShape] }],
      outputs: [{ name: outputName, elemType: DataType.FLOAT, shape: ['batch', ...output.shape] }],
    },
    opsetVersion: 13,
    producerName: 'pixelfind tfjs-layers',
    producerVersion: options.producerVersion ?? '1',
    ...(options.metadata ? { metadata: options.metadata } : {}),
  };
}
