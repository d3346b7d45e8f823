import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { AppError, badInput } from '../errors.ts';

/** What preprocessor_config.json (a Hugging Face CLIPImageProcessor config) asks for. */
export interface PreprocessConfig {
  doConvertRgb: boolean;
  doResize: boolean;
  /** resize so the shorter side has this length, keeping the aspect ratio */
  shortestEdge: number | null;
  /** or resize to exactly this size */
  resizeTo: { height: number; width: number } | null;
  /** PIL resample code: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming */
  resample: number;
  doCenterCrop: boolean;
  crop: { height: number; width: number };
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: [number, number, number];
  std: [number, number, number];
}

/** Height and width of the tensor the model sees. */
export function outputSize(config: PreprocessConfig): { height: number; width: number } {
  if (config.doCenterCrop) return config.crop;
  if (config.resizeTo) return config.resizeTo;
  if (config.shortestEdge) return { height: config.shortestEdge, width: config.shortestEdge };
  return config.crop;
}

function sizeField(value: unknown, name: string): { height: number; width: number } | number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.shortest_edge === 'number') return v.shortest_edge;
    if (typeof v.height === 'number' && typeof v.width === 'number')
      return { height: v.height, width: v.width };
  }
  throw new Error(`preprocessor config: cannot read ${name} ${JSON.stringify(value)}`);
}

function triple(value: unknown, name: string, fallback: [number, number, number]): [number, number, number] {
  if (value === undefined) return fallback;
  if (
    Array.isArray(value) &&
    value.length === 3 &&
    value.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    return value as [number, number, number];
  }
  throw new Error(`preprocessor config: ${name} must be three numbers, got ${JSON.stringify(value)}`);
}

/** Reads a CLIPImageProcessor/CLIPFeatureExtractor config (old and new field spellings). */
export function parsePreprocessConfig(json: unknown): PreprocessConfig {
  if (typeof json !== 'object' || json === null) throw new Error('preprocessor config must be a JSON object');
  const c = json as Record<string, unknown>;
  const size = sizeField(c.size, 'size');
  const cropField = sizeField(c.crop_size, 'crop_size');
  const fallback = typeof size === 'number' ? size : 224;
  const crop =
    cropField === null
      ? { height: fallback, width: fallback }
      : typeof cropField === 'number'
        ? { height: cropField, width: cropField }
        : cropField;
  const std = triple(c.image_std, 'image_std', [1, 1, 1]);
  if (std.some((s) => s === 0)) throw new Error('preprocessor config: image_std must not contain 0');
  return {
    doConvertRgb: c.do_convert_rgb !== false,
    doResize: c.do_resize !== false,
    shortestEdge: typeof size === 'number' ? size : null,
    resizeTo: size !== null && typeof size === 'object' ? size : null,
    resample: typeof c.resample === 'number' ? c.resample : 3,
    doCenterCrop: c.do_center_crop !== false,
    crop,
    doRescale: c.do_rescale !== false,
    rescaleFactor: typeof c.rescale_factor === 'number' ? c.rescale_factor : 1 / 255,
    doNormalize: c.do_normalize !== false,
    mean: triple(c.image_mean, 'image_mean', [0, 0, 0]),
    std,
  };
}

export async function loadPreprocessConfig(file: string): Promise<PreprocessConfig> {
  const text = await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return parsePreprocessConfig(json);
  } catch (error) {
    throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const KERNELS: Record<number, keyof sharp.KernelEnum> = {
  0: 'nearest',
  1: 'lanczos3',
  2: 'linear',
  3: 'cubic',
  4: 'linear',
  5: 'linear',
};

export interface RgbImage {
  /** 8-bit RGB, row-major, 3 bytes a pixel */
  data: Buffer;
  width: number;
  height: number;
}

/** Largest image accepted, in pixels (decompression bombs fail fast instead of filling memory). */
export const MAX_INPUT_PIXELS = 100_000_000;

/**
 * Decodes any image sharp reads (JPEG, PNG, WebP, GIF, AVIF, TIFF; 16-bit, CMYK, grey, alpha) to
 * 8-bit sRGB: EXIF orientation applied, transparency flattened onto white (as transformers'
 * convert_rgb does), optionally resized. Undecodable bytes are UNSUPPORTED_MEDIA_TYPE.
 */
export async function decodeRgb(
  bytes: Uint8Array,
  resize?: { width: number; height: number; fit: 'outside' | 'fill'; kernel: keyof sharp.KernelEnum },
): Promise<RgbImage> {
  if (!(bytes instanceof Uint8Array)) throw badInput('Expected image bytes in a Buffer');
  if (bytes.length === 0) throw badInput('Image is empty');
  try {
    let image = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
    if (resize) image = image.resize(resize);
    const { data, info } = await image
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { data, width: info.width, height: info.height };
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    if (/pixel limit/i.test(reason ?? '')) {
      throw new AppError('PAYLOAD_TOO_LARGE', `Image is larger than ${MAX_INPUT_PIXELS} pixels`);
    }
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Could not decode the image: ${reason}`);
  }
}

/**
 * Turns image bytes into the model's input: a Float32Array [3, height, width] (one image of
 * NCHW), resized, centre-cropped, rescaled and normalised as the config says.
 */
export async function preprocessImage(bytes: Uint8Array, config: PreprocessConfig): Promise<Float32Array> {
  const kernel = KERNELS[config.resample] ?? 'cubic';
  let resize: Parameters<typeof decodeRgb>[1];
  if (config.doResize && config.shortestEdge) {
    resize = { width: config.shortestEdge, height: config.shortestEdge, fit: 'outside', kernel };
  } else if (config.doResize && config.resizeTo) {
    resize = { ...config.resizeTo, fit: 'fill', kernel };
  }
  const rgb = await decodeRgb(bytes, resize);
  return toTensor(rgb, config);
}

/** Centre crop (zero padding where the image is smaller, as transformers does), rescale, normalise. */
export function toTensor(rgb: RgbImage, config: PreprocessConfig): Float32Array {
  const { height, width } = outputSize(config);
  const top = Math.floor((rgb.height - height) / 2);
  const left = Math.floor((rgb.width - width) / 2);
  const scale = config.doRescale ? config.rescaleFactor : 1;
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = config.doNormalize ? config.mean[c]! : 0;
    const std = config.doNormalize ? config.std[c]! : 1;
    const padValue = (0 - mean) / std;
    for (let y = 0; y < height; y++) {
      const sy = y + top;
      for (let x = 0; x < width; x++) {
        const sx = x + left;
        const inside = sy >= 0 && sy < rgb.height && sx >= 0 && sx < rgb.width;
        out[c * plane + y * width + x] = inside
          ? (rgb.data[(sy * rgb.width + sx) * 3 + c]! * scale - mean) / std
          : padValue;
      }
    }
  }
  return out;
}

/** The manifest's preprocessing rules (manifest.ts). */
export interface PreprocessingRules {
  imageSize: number;
  resize: 'shortest-edge-center-crop' | 'squash';
  resample: 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
}

const RESAMPLE_CODES: Record<PreprocessingRules['resample'], number> = {
  nearest: 0,
  lanczos: 1,
  bilinear: 2,
  bicubic: 3,
};

/** What the manifest's rules mean, as the config the image pipeline runs. */
export function preprocessConfigOf(rules: PreprocessingRules): PreprocessConfig {
  const square = { height: rules.imageSize, width: rules.imageSize };
  const crop = rules.resize === 'shortest-edge-center-crop';
  return {
    doConvertRgb: true,
    doResize: true,
    shortestEdge: crop ? rules.imageSize : null,
    resizeTo: crop ? null : square,
    resample: RESAMPLE_CODES[rules.resample],
    doCenterCrop: crop,
    crop: square,
    doRescale: true,
    rescaleFactor: rules.rescaleFactor,
    doNormalize: true,
    mean: rules.mean,
    std: rules.std,
  };
}

/**
 * Checks a model directory's preprocessor_config.json against its manifest: the same output
 * size, resize rule and normalisation, or the directory holds another model. Returns the
 * disagreement, or null.
 */
export function preprocessorDisagreement(
  rules: PreprocessingRules,
  file: PreprocessConfig,
  modelVersion: string,
): string | null {
  const size = outputSize(file);
  if (size.height !== rules.imageSize || size.width !== rules.imageSize) {
    return `crops to ${size.width}x${size.height} but ${modelVersion} expects ${rules.imageSize}x${rules.imageSize}: wrong model directory?`;
  }
  const crop = rules.resize === 'shortest-edge-center-crop';
  if (file.doCenterCrop !== crop) {
    return `${file.doCenterCrop ? 'centre-crops' : 'does not centre-crop'} but the manifest of ${modelVersion} says resize ${rules.resize}`;
  }
  const close = (a: readonly number[], b: readonly number[]) => a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);
  const [mean, std] = file.doNormalize
    ? [file.mean, file.std]
    : [
        [0, 0, 0],
        [1, 1, 1],
      ];
  if (!close(mean, rules.mean) || !close(std, rules.std)) {
    return `normalises with other mean/std than the manifest of ${modelVersion} says`;
  }
  return null;
}
