import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { AppError, badInput } from '../errors.ts';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif';

export interface ImageType {
  format: ImageFormat;
  mime: string;
  /** File extension for blob keys, without the dot. */
  ext: string;
}

export interface ImageLimits {
  /** Largest file accepted, in bytes. Default 25 MiB. */
  maxBytes: number;
  /** Largest width x height accepted, checked from the header before decoding. Default 50 million. */
  maxPixels: number;
}

export interface InspectedImage extends ImageType {
  /** Width after EXIF auto-orientation (what a viewer shows). */
  width: number;
  /** Height after EXIF auto-orientation. */
  height: number;
  /** Hex sha256 of the original bytes. */
  sha256: string;
  /** The original bytes, unchanged (orientation is applied when the image is read, not stored). */
  bytes: Buffer;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 25 * 1024 * 1024, maxPixels: 50_000_000 };

const TYPES: Record<ImageFormat, ImageType> = {
  jpeg: { format: 'jpeg', mime: 'image/jpeg', ext: 'jpg' },
  png: { format: 'png', mime: 'image/png', ext: 'png' },
  webp: { format: 'webp', mime: 'image/webp', ext: 'webp' },
  gif: { format: 'gif', mime: 'image/gif', ext: 'gif' },
  avif: { format: 'avif', mime: 'image/avif', ext: 'avif' },
};

/** The format sharp reports for each of ours (libvips reads AVIF with its HEIF loader). */
const SHARP_FORMAT: Record<ImageFormat, string> = {
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  avif: 'heif',
};

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const AVIF_BRANDS = new Set(['avif', 'avis']);

const ascii = (bytes: Buffer, start: number, end: number) => bytes.toString('latin1', start, end);

/** AVIF is an ISO-BMFF file whose leading `ftyp` box names an AVIF brand (major or compatible). */
function isAvif(bytes: Buffer): boolean {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return false;
  const boxSize = bytes.readUInt32BE(0);
  if (boxSize < 16 || boxSize > bytes.length || boxSize % 4 !== 0) return false;
  if (AVIF_BRANDS.has(ascii(bytes, 8, 12))) return true;
  // bytes 12..16 are the minor version; compatible brands follow, four bytes each
  for (let offset = 16; offset + 4 <= boxSize; offset += 4) {
    if (AVIF_BRANDS.has(ascii(bytes, offset, offset + 4))) return true;
  }
  return false;
}

/**
 * The image type the bytes really are, from their magic numbers (never from a file name or a
 * client's Content-Type), or null when they are none of the formats Pixelfind accepts.
 */
export function sniffImageType(bytes: Buffer): ImageType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return TYPES.jpeg;
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return TYPES.png;
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a'))
    return TYPES.gif;
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP')
    return TYPES.webp;
  if (isAvif(bytes)) return TYPES.avif;
  return null;
}

/**
 * Checks that `bytes` are a whole, decodable JPEG, PNG, WebP, GIF or AVIF within the limits,
 * and describes them. Cheap checks run first: size, magic bytes, then the dimensions from the
 * header, so a decompression bomb (a small file claiming 30000x30000) is refused before any
 * pixel is decoded. Only then is the image decoded in full, which catches truncated files.
 *
 * Throws AppError: BAD_USER_INPUT (empty, corrupt, truncated), PAYLOAD_TOO_LARGE (bytes or
 * pixels over the limits), UNSUPPORTED_MEDIA_TYPE (anything else, SVG included).
 */
export async function inspectImage(
  bytes: Buffer,
  limits: Partial<ImageLimits> = {},
): Promise<InspectedImage> {
  const { maxBytes, maxPixels } = { ...DEFAULT_IMAGE_LIMITS, ...limits };
  if (bytes.length === 0) throw badInput('The file is empty');
  if (bytes.length > maxBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The file is ${bytes.length} bytes; the limit is ${maxBytes}`);
  }
  const type = sniffImageType(bytes);
  if (!type) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The file is not a JPEG, PNG, WebP, GIF or AVIF image');
  }

  // Header only: libvips opens the image lazily, so no pixels are decoded here. The pixel limit
  // is off for this call because we compare against our own, with a clearer message.
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw badInput(`The file looks like ${type.format.toUpperCase()} but its header cannot be read`);
  }
  if (metadata.format !== SHARP_FORMAT[type.format]) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `The file is not a ${type.format.toUpperCase()} image it claims to be`,
    );
  }
  // Animated images decode one frame (sharp's default), so one frame is what counts.
  const { width, height } = metadata;
  if (!width || !height) throw badInput('The image has no width or height');
  if (width * height > maxPixels) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `The image is ${width}x${height} pixels; the limit is ${maxPixels} pixels in total`,
    );
  }

  // Full decode. failOn 'error' rejects truncated and corrupt data but tolerates the harmless
  // warnings many cameras' files carry. stats() streams through every pixel without keeping them.
  try {
    await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels, sequentialRead: true }).stats();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw badInput(`The image cannot be decoded (truncated or corrupt): ${reason}`);
  }

  const oriented = metadata.autoOrient ?? { width, height };
  return {
    ...type,
    width: oriented.width,
    height: oriented.height,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes,
  };
}
