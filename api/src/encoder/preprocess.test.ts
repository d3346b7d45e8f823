import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { AppError } from '../errors.ts';
import { parsePreprocessConfig, preprocessImage } from './preprocess.ts';

// the tiny model's config: CLIP's mean/std, shortest edge 64, centre crop 64x64
const config = parsePreprocessConfig({
  crop_size: { height: 64, width: 64 },
  do_center_crop: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  rescale_factor: 1 / 255,
  size: { shortest_edge: 64 },
});

function channelStats(tensor: Float32Array, size = 64) {
  const plane = size * size;
  return [0, 1, 2].map((c) => {
    const values = tensor.subarray(c * plane, (c + 1) * plane);
    const mean = values.reduce((s, v) => s + v, 0) / plane;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / plane);
    return { mean, std };
  });
}

describe('preprocessing', () => {
  it('crops a 128x64 red|blue image to its centre and normalises each channel', async () => {
    // 128x64: left half (220,20,20), right half (20,40,220). Already 64 high, so no resize; the
    // centre crop keeps columns 32-95: half red, half blue. Per channel, with values a and b in
    // equal parts: mean = ((a+b)/2/255 - m)/s, std = |a-b|/2/255/s. By hand:
    //   R: a=220 b=20:  mean (120/255 - 0.48145466)/0.26862954 = -0.04045, std (100/255)/0.26862954 = 1.45985
    //   G: a=20  b=40:  mean (30/255 - 0.4578275)/0.26130258  = -1.30187, std (10/255)/0.26130258  = 0.15008
    //   B: a=20  b=220: mean (120/255 - 0.40821073)/0.27577711 =  0.22619, std (100/255)/0.27577711 = 1.42196
    const image = await makeColourImage({ left: 'red', right: 'blue', width: 128, height: 64 });
    const tensor = await preprocessImage(image, config);
    expect(tensor).toHaveLength(3 * 64 * 64);
    const stats = channelStats(tensor);
    const expected = [
      { mean: -0.04045, std: 1.45985 },
      { mean: -1.30187, std: 0.15008 },
      { mean: 0.22619, std: 1.42196 },
    ];
    stats.forEach((s, c) => {
      expect(s.mean).toBeCloseTo(expected[c]!.mean, 4);
      expect(s.std).toBeCloseTo(expected[c]!.std, 4);
    });
    // NCHW: the first row of the red channel is red on the left, blue on the right
    expect(tensor[0]).toBeCloseTo((220 / 255 - 0.48145466) / 0.26862954, 5);
    expect(tensor[63]).toBeCloseTo((20 / 255 - 0.48145466) / 0.26862954, 5);
  });

  it('scales a 1x1 image up to a uniform 64x64 tensor', async () => {
    const image = await makeColourImage({ colour: 'green', size: 1 });
    const stats = channelStats(await preprocessImage(image, config));
    expect(stats[1]!.mean).toBeCloseTo((160 / 255 - 0.4578275) / 0.26130258, 3);
    for (const s of stats) expect(s.std).toBeLessThan(1e-3);
  });

  it('flattens transparency onto white', async () => {
    const image = await makeColourImage({ colour: 'black', encoding: 'rgba', alpha: 0 });
    const stats = channelStats(await preprocessImage(image, config));
    expect(stats[0]!.mean).toBeCloseTo((1 - 0.48145466) / 0.26862954, 4);
  });

  it('reads 16-bit PNG and CMYK JPEG as 8-bit RGB', async () => {
    const png16 = await makeColourImage({ colour: 'red', encoding: 'rgb16' });
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const red = channelStats(await preprocessImage(png16, config));
    expect(red[0]!.mean).toBeCloseTo((220 / 255 - 0.48145466) / 0.26862954, 2);

    const cmyk = await makeColourImage({ colour: 'blue', encoding: 'cmyk' });
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const blue = channelStats(await preprocessImage(cmyk, config));
    // CMYK round trips are lossy; blue must still be the strongest channel by far
    expect(blue[2]!.mean).toBeGreaterThan(blue[0]!.mean + 1);
  });

  it('follows a wide image resized to the shortest edge, keeping the middle', async () => {
    // 300x150 -> 128x64 -> crop 64: columns 32..95 of a left=white right=black split at 64
    const image = await makeColourImage({ left: 'white', right: 'black', width: 300, height: 150 });
    const tensor = await preprocessImage(image, config);
    const white = (1 - 0.48145466) / 0.26862954;
    const black = (0 - 0.48145466) / 0.26862954;
    expect(tensor[10 * 64 + 5]).toBeCloseTo(white, 2);
    expect(tensor[10 * 64 + 60]).toBeCloseTo(black, 2);
  });

  it('rejects bytes that are not an image as UNSUPPORTED_MEDIA_TYPE', async () => {
    const error = await preprocessImage(Buffer.from('definitely not a png'), config).catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(error.message).toMatch(/Could not decode the image/);
  });

  it('rejects a truncated PNG and an empty buffer', async () => {
    const png = await makeColourImage({ colour: 'red', size: 256 });
    const truncated = await preprocessImage(png.subarray(0, png.length / 2), config).catch((e) => e);
    expect(truncated).toBeInstanceOf(AppError);
    const empty = await preprocessImage(Buffer.alloc(0), config).catch((e) => e);
    expect(empty).toMatchObject({ code: 'BAD_USER_INPUT', message: 'Image is empty' });
  });

  it('reads old-style configs (size and crop_size as numbers)', () => {
    const old = parsePreprocessConfig({
      size: 224,
      crop_size: 224,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    });
    expect(old.shortestEdge).toBe(224);
    expect(old.crop).toEqual({ height: 224, width: 224 });
    expect(() => parsePreprocessConfig({ image_std: [0, 1, 1] })).toThrow(/image_std/);
  });
});
