/**
 * The shard server's binary wire format. Vectors travel as little-endian float32 and ids as
 * little-endian int64, each array starting at a multiple of 8 bytes so the receiver can view it in
 * place; only small control messages (acks, health, stats, errors) are JSON.
 *
 * Every binary message starts with a 12-byte header:
 *
 *   offset  size  field
 *   0       4     magic "PXF1" (0x50 0x58 0x46 0x31)
 *   4       1     protocol version (1)
 *   5       1     message type (MessageType)
 *   6       2     model version length L in bytes (UTF-8), 0 for responses
 *   8       4     reserved, 0
 *   12      L     model version, then zero padding to a multiple of 8
 *
 * followed by the message body (offsets relative to the end of the padded header):
 *
 *   SEARCH_REQUEST   u32 dimension, u32 nq, u32 k, u32 nprobe (0: shard default),
 *                    u32 efSearch (0: shard default), u32 flags (bit 0: allowed ids present),
 *                    u32 allowedCount, u32 reserved,
 *                    f32[nq * dimension] queries, padding to 8, i64[allowedCount] allowed ids
 *   SEARCH_RESPONSE  u32 nq, u32 k, i64[nq * k] ids (-1 = no result), f32[nq * k] scores
 *   UPSERT_REQUEST   u32 dimension, u32 n, i64[n] ids, f32[n * dimension] vectors
 *   DELETE_REQUEST   u32 n, u32 reserved, i64[n] ids
 *
 * Lengths must match the body exactly; anything else is rejected as BAD_REQUEST.
 */
import { badRequest } from '../errors.ts';
import '../shard/int64.ts'; // refuses to load on a big-endian CPU
import { type Hit, hitsPerQuery } from '../shard/topk.ts';

export const MAGIC = 0x31465850; // "PXF1" read as a little-endian u32
export const PROTOCOL_VERSION = 1;
export const BINARY_CONTENT_TYPE = 'application/x-pixelfind-shard';

export const MessageType = {
  SEARCH_REQUEST: 1,
  UPSERT_REQUEST: 2,
  DELETE_REQUEST: 3,
  SEARCH_RESPONSE: 0x81,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const HEADER_BYTES = 12;
const pad8 = (n: number) => (n + 7) & ~7;

export interface SearchRequestMessage {
  modelVersion: string;
  dimension: number;
  queries: Float32Array;
  k: number;
  nprobe?: number;
  efSearch?: number;
  allowedIds?: BigInt64Array;
}

export interface UpsertRequestMessage {
  modelVersion: string;
  dimension: number;
  ids: BigInt64Array;
  vectors: Float32Array;
}

export interface DeleteRequestMessage {
  modelVersion: string;
  ids: BigInt64Array;
}

/** Lays out one message; sizes are computed first so the buffer is allocated once. */
class Writer {
  readonly bytes: Buffer;
  private readonly view: DataView;
  private offset = 0;

  constructor(size: number) {
    this.bytes = Buffer.alloc(size);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  header(type: MessageType, modelVersion: Buffer): this {
    this.u32(MAGIC);
    this.view.setUint8(4, PROTOCOL_VERSION);
    this.view.setUint8(5, type);
    this.view.setUint16(6, modelVersion.length, true);
    this.offset = 8;
    this.u32(0);
    this.bytes.set(modelVersion, this.offset);
    this.offset = pad8(this.offset + modelVersion.length);
    return this;
  }

  u32(value: number): this {
    this.view.setUint32(this.offset, value, true);
    this.offset += 4;
    return this;
  }

  array(values: Float32Array | BigInt64Array): this {
    this.offset = pad8(this.offset);
    this.bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.offset);
    this.offset += values.byteLength;
    return this;
  }
}

const headerSize = (modelVersion: Buffer) => pad8(HEADER_BYTES + modelVersion.length);

function modelVersionBytes(modelVersion: string): Buffer {
  const bytes = Buffer.from(modelVersion, 'utf8');
  if (bytes.length > 0xffff) throw badRequest('Model version is longer than 65535 bytes');
  return bytes;
}

export function encodeSearchRequest(m: SearchRequestMessage): Buffer {
  const mv = modelVersionBytes(m.modelVersion);
  const nq = m.queries.length / m.dimension;
  if (!Number.isInteger(nq) || nq === 0) {
    throw badRequest(
      `Expected queries to hold whole vectors of dimension ${m.dimension} but received ${m.queries.length} values`,
    );
  }
  const allowed = m.allowedIds;
  const size = headerSize(mv) + 32 + pad8(m.queries.byteLength) + (allowed?.byteLength ?? 0);
  const w = new Writer(size)
    .header(MessageType.SEARCH_REQUEST, mv)
    .u32(m.dimension)
    .u32(nq)
    .u32(m.k)
    .u32(m.nprobe ?? 0)
    .u32(m.efSearch ?? 0)
    .u32(allowed ? 1 : 0)
    .u32(allowed?.length ?? 0)
    .u32(0)
    .array(m.queries);
  if (allowed) w.array(allowed);
  return w.bytes;
}

export function encodeUpsertRequest(m: UpsertRequestMessage): Buffer {
  const mv = modelVersionBytes(m.modelVersion);
  const size = headerSize(mv) + 8 + m.ids.byteLength + m.vectors.byteLength;
  return new Writer(size)
    .header(MessageType.UPSERT_REQUEST, mv)
    .u32(m.dimension)
    .u32(m.ids.length)
    .array(m.ids)
    .array(m.vectors).bytes;
}

export function encodeDeleteRequest(m: DeleteRequestMessage): Buffer {
  const mv = modelVersionBytes(m.modelVersion);
  const size = headerSize(mv) + 8 + m.ids.byteLength;
  return new Writer(size).header(MessageType.DELETE_REQUEST, mv).u32(m.ids.length).u32(0).array(m.ids).bytes;
}

/** Results are padded to k per query with id -1 (score 0) so the layout stays rectangular. */
export function encodeSearchResponse(results: Hit[][], k: number): Buffer {
  const nq = results.length;
  const ids = new BigInt64Array(nq * k).fill(-1n);
  const scores = new Float32Array(nq * k);
  results.forEach((hits, q) => {
    hits.slice(0, k).forEach((hit, j) => {
      ids[q * k + j] = hit.id;
      scores[q * k + j] = hit.score;
    });
  });
  const size = headerSize(Buffer.alloc(0)) + 8 + ids.byteLength + scores.byteLength;
  return new Writer(size)
    .header(MessageType.SEARCH_RESPONSE, Buffer.alloc(0))
    .u32(nq)
    .u32(k)
    .array(ids)
    .array(scores).bytes;
}

/** A fresh, aligned ArrayBuffer holding `bytes` (Buffer#slice would share memory). */
function copyOf(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** Reads one message, checking every length against the bytes actually present. */
class Reader {
  private readonly view: DataView;
  private offset: number;
  readonly type: MessageType;
  readonly modelVersion: string;

  constructor(private readonly bytes: Uint8Array) {
    if (bytes.byteLength < HEADER_BYTES)
      throw badRequest(`Message of ${bytes.byteLength} bytes is shorter than its header`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.view.getUint32(0, true) !== MAGIC)
      throw badRequest('Message does not start with the PXF1 magic');
    const version = this.view.getUint8(4);
    if (version !== PROTOCOL_VERSION) {
      throw badRequest(`Protocol version ${version} is not supported (expected ${PROTOCOL_VERSION})`);
    }
    this.type = this.view.getUint8(5) as MessageType;
    const mvLength = this.view.getUint16(6, true);
    if (HEADER_BYTES + mvLength > bytes.byteLength)
      throw badRequest('Model version runs past the end of the message');
    this.modelVersion = Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_BYTES, mvLength).toString('utf8');
    this.offset = pad8(HEADER_BYTES + mvLength);
  }

  expect(type: MessageType): this {
    if (this.type !== type) throw badRequest(`Expected message type ${type} but received ${this.type}`);
    return this;
  }

  u32(): number {
    if (this.offset + 4 > this.bytes.byteLength) throw badRequest('Message ends inside its fixed fields');
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  float32(count: number): Float32Array {
    return this.typed(Float32Array, count);
  }

  int64(count: number): BigInt64Array {
    return this.typed(BigInt64Array, count);
  }

  private typed<T extends Float32Array | BigInt64Array>(
    Type: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
    count: number,
  ): T {
    const start = pad8(this.offset);
    const size = Type.BYTES_PER_ELEMENT;
    const bytes = this.slice(start, count * size);
    this.offset = start + count * size;
    // view in place when aligned (it is whenever the body buffer is), copy otherwise
    return bytes.byteOffset % size === 0
      ? new Type(bytes.buffer, bytes.byteOffset, count)
      : new Type(copyOf(bytes), 0, count);
  }

  /** The whole message must have been consumed. */
  end(): void {
    if (this.offset !== this.bytes.byteLength) {
      throw badRequest(`Message has ${this.bytes.byteLength - this.offset} unexpected trailing bytes`);
    }
  }

  private slice(start: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(length) || start + length > this.bytes.byteLength) {
      throw badRequest(
        `Message declares ${length} bytes of data but only ${Math.max(0, this.bytes.byteLength - start)} remain`,
      );
    }
    return this.bytes.subarray(start, start + length);
  }
}

export function decodeSearchRequest(bytes: Uint8Array): SearchRequestMessage {
  const r = new Reader(bytes).expect(MessageType.SEARCH_REQUEST);
  const dimension = r.u32();
  const nq = r.u32();
  const k = r.u32();
  const nprobe = r.u32();
  const efSearch = r.u32();
  const flags = r.u32();
  const allowedCount = r.u32();
  r.u32();
  if (dimension === 0 || nq === 0) throw badRequest('Search request holds no query vectors');
  const queries = r.float32(nq * dimension);
  const allowedIds = flags & 1 ? r.int64(allowedCount) : undefined;
  r.end();
  return {
    modelVersion: r.modelVersion,
    dimension,
    queries,
    k,
    ...(nprobe ? { nprobe } : {}),
    ...(efSearch ? { efSearch } : {}),
    ...(allowedIds ? { allowedIds } : {}),
  };
}

export function decodeUpsertRequest(bytes: Uint8Array): UpsertRequestMessage {
  const r = new Reader(bytes).expect(MessageType.UPSERT_REQUEST);
  const dimension = r.u32();
  const n = r.u32();
  if (dimension === 0) throw badRequest('Upsert request has dimension 0');
  const ids = r.int64(n);
  const vectors = r.float32(n * dimension);
  r.end();
  return { modelVersion: r.modelVersion, dimension, ids, vectors };
}

export function decodeDeleteRequest(bytes: Uint8Array): DeleteRequestMessage {
  const r = new Reader(bytes).expect(MessageType.DELETE_REQUEST);
  const n = r.u32();
  r.u32();
  const ids = r.int64(n);
  r.end();
  return { modelVersion: r.modelVersion, ids };
}

export function decodeSearchResponse(bytes: Uint8Array): Hit[][] {
  const r = new Reader(bytes).expect(MessageType.SEARCH_RESPONSE);
  const nq = r.u32();
  const k = r.u32();
  const ids = r.int64(nq * k);
  const scores = r.float32(nq * k);
  r.end();
  return hitsPerQuery(ids, scores, nq, k);
}

/** JSON for control messages: bigints as decimal strings. */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v));
