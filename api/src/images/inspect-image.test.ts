import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { appErrorOf } from '../../../test/support/app-error.ts';
import { type ImageFormat, inspectImage, sniffImageType } from './inspect-image.ts';

/** A 120x80 image with noise, so the encoded file has real entropy to truncate. */
function base(width = 120, height = 80) {
  return sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#3366cc',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  });
}

const encoders: Record<ImageFormat, () => Promise<Buffer>> = {
  jpeg: () => base().jpeg().toBuffer(),
  png: () => base().png().toBuffer(),
  webp: () => base().webp().toBuffer(),
  gif: () => base().gif().toBuffer(),
  avif: () => base().avif({ effort: 0 }).toBuffer(),
};

const rejection = (promise: Promise<unknown>) => appErrorOf(promise, 'inspectImage to refuse the input');

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A tiny, well-formed PNG whose header claims `width` x `height` RGB pixels. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('inspectImage', () => {
  it.each(Object.keys(encoders) as ImageFormat[])('accepts %s and describes it', async (format) => {
    const bytes = await encoders[format]();
    const image = await inspectImage(bytes);
    expect(image).toMatchObject({ format, width: 120, height: 80 });
    expect(image.mime).toBe(`image/${format}`);
    expect(image.ext).toBe(format === 'jpeg' ? 'jpg' : format);
    expect(image.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(image.bytes).toBe(bytes);
  });

  it('reports the size a viewer shows for an EXIF-rotated JPEG (orientation 6 swaps w/h)', async () => {
    const bytes = await base(120, 80).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const image = await inspectImage(bytes);
    expect(image).toMatchObject({ format: 'jpeg', width: 80, height: 120 });
    // the stored bytes stay the original ones
    expect(image.bytes).toBe(bytes);
  });

  it.each(['webp', 'gif'] as const)('reports one frame of an animated %s', async (format) => {
    const frames = await Promise.all(
      ['red', 'green', 'blue'].map((background) =>
        sharp({ create: { width: 40, height: 30, channels: 4, background } })
          .png()
          .toBuffer(),
      ),
    );
    const animated = await sharp(frames, { join: { animated: true } })
      [format]()
      .toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(3);
    expect(await inspectImage(animated)).toMatchObject({ format, width: 40, height: 30 });
  });

  it('refuses a zero-byte file as bad input', async () => {
    expect((await rejection(inspectImage(Buffer.alloc(0)))).code).toBe('BAD_USER_INPUT');
  });

  it('refuses random bytes as an unsupported type', async () => {
    const error = await rejection(
      inspectImage(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))),
    );
    expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it.each([
    [
      'SVG',
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    ],
    ['SVG with an XML prolog', '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>'],
    ['text', 'hello, this is not an image\n'],
    ['HTML', '<!doctype html><html><body><img src="x.png"></body></html>'],
    ['PDF', '%PDF-1.4\n1 0 obj\n<<>>\nendobj\n'],
  ])('refuses %s as an unsupported type', async (_name, text) => {
    expect((await rejection(inspectImage(Buffer.from(text)))).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a TIFF, which sharp could decode but Pixelfind does not accept', async () => {
    const tiff = await base().tiff().toBuffer();
    expect((await rejection(inspectImage(tiff))).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a HEIC container (ftyp without an AVIF brand)', async () => {
    const avif = await encoders.avif();
    const heic = Buffer.from(avif);
    const boxSize = heic.readUInt32BE(0);
    for (let offset = 8; offset + 4 <= boxSize; offset += 4) {
      if (['avif', 'avis'].includes(heic.toString('latin1', offset, offset + 4)))
        heic.write('heic', offset, 'latin1');
    }
    expect((await rejection(inspectImage(heic))).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a truncated JPEG as bad input', async () => {
    const jpeg = await base(400, 300).jpeg().toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    const error = await rejection(inspectImage(truncated));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/truncated or corrupt/);
  });

  it('refuses a truncated PNG as bad input', async () => {
    const png = await base(400, 300).png().toBuffer();
    expect((await rejection(inspectImage(png.subarray(0, Math.floor(png.length * 0.6))))).code).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('refuses a PNG signature followed by garbage as bad input', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(64, 7),
    ]);
    expect((await rejection(inspectImage(bytes))).code).toBe('BAD_USER_INPUT');
  });

  it('refuses a 30000x30000 PNG from its header, without decoding it', async () => {
    const bomb = pngClaiming(30_000, 30_000);
    expect(bomb.length).toBeLessThan(200);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const error = await rejection(inspectImage(bomb));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toMatch(/30000x30000/);
    expect(performance.now() - started).toBeLessThan(500);
    // decoding would need 2.7 GB; a header read needs next to nothing
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
  });

  it('applies a configured pixel limit to a real image', async () => {
    const bytes = await base(400, 300).png().toBuffer();
    expect((await rejection(inspectImage(bytes, { maxPixels: 100_000 }))).code).toBe('PAYLOAD_TOO_LARGE');
    expect((await inspectImage(bytes, { maxPixels: 120_000 })).width).toBe(400);
  });

  it('refuses a file over the byte limit before looking inside', async () => {
    const oversize = Buffer.alloc(25 * 1024 * 1024 + 1);
    oversize.set([0xff, 0xd8, 0xff]);
    expect((await rejection(inspectImage(oversize))).code).toBe('PAYLOAD_TOO_LARGE');
    const jpeg = await encoders.jpeg();
    expect((await rejection(inspectImage(jpeg, { maxBytes: jpeg.length - 1 }))).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });
});

describe('sniffImageType', () => {
  it('reads the type from the magic bytes only', () => {
    expect(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))?.format).toBe('jpeg');
    expect(sniffImageType(Buffer.from('GIF89a....'))?.format).toBe('gif');
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))?.format).toBe('webp');
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeNull();
    expect(sniffImageType(Buffer.from([0xff, 0xd8]))).toBeNull();
    expect(sniffImageType(Buffer.alloc(0))).toBeNull();
  });
});
