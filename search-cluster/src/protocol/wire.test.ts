import { describe, expect, it } from 'vitest';
import { ClusterError } from '../errors.ts';
import {
  decodeDeleteRequest,
  decodeSearchRequest,
  decodeSearchResponse,
  decodeUpsertRequest,
  encodeDeleteRequest,
  encodeSearchRequest,
  encodeSearchResponse,
  encodeUpsertRequest,
  MAGIC,
} from './wire.ts';

const floats = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * seed) * 0.5);

describe('wire format', () => {
  const queries = floats(2 * 5);
  it.each([
    ['without allowed ids', { modelVersion: 'clip-vit-b32@2', dimension: 5, queries, k: 7 }],
    [
      'with allowed ids, nprobe and efSearch',
      {
        modelVersion: 'ü',
        dimension: 5,
        queries,
        k: 3,
        nprobe: 9,
        efSearch: 128,
        allowedIds: BigInt64Array.of(1n, 2n ** 62n, 0n),
      },
    ],
    // an empty allowed set is not "no filter"
    [
      'with an empty allowed set',
      { modelVersion: 'm', dimension: 5, queries, k: 3, allowedIds: new BigInt64Array(0) },
    ],
  ] as const)('round-trips a search request %s', (_what, request) => {
    expect(decodeSearchRequest(encodeSearchRequest(request))).toEqual(request);
  });

  it('lays vectors out as little-endian float32 and ids as int64 at 8-byte offsets', () => {
    const bytes = encodeUpsertRequest({
      modelVersion: 'abc',
      dimension: 2,
      ids: BigInt64Array.of(258n),
      vectors: Float32Array.of(1.5, -2),
    });
    expect(bytes.readUInt32LE(0)).toBe(MAGIC);
    expect(bytes.toString('latin1', 0, 4)).toBe('PXF1');
    expect(bytes.readUInt16LE(6)).toBe(3);
    // header 12 + "abc" padded to 16, then dimension, n, then ids at 24 and vectors at 32
    expect(bytes.readUInt32LE(16)).toBe(2);
    expect(bytes.readUInt32LE(20)).toBe(1);
    expect(bytes.readBigInt64LE(24)).toBe(258n);
    expect(bytes.readFloatLE(32)).toBe(1.5);
    expect(bytes.readFloatLE(36)).toBe(-2);
    expect(bytes.length).toBe(40);
    expect(decodeUpsertRequest(bytes)).toEqual({
      modelVersion: 'abc',
      dimension: 2,
      ids: BigInt64Array.of(258n),
      vectors: Float32Array.of(1.5, -2),
    });
  });

  it('decodes a message that sits at an odd offset in a larger buffer', () => {
    const message = encodeDeleteRequest({ modelVersion: 'm', ids: BigInt64Array.of(5n, 6n) });
    const shifted = Buffer.alloc(message.length + 3);
    message.copy(shifted, 3);
    expect(decodeDeleteRequest(shifted.subarray(3))).toEqual({
      modelVersion: 'm',
      ids: BigInt64Array.of(5n, 6n),
    });
  });

  it('pads search responses to k and drops the padding when decoding', () => {
    const results = [
      [
        { id: 9n, score: 0.75 },
        { id: 3n, score: 0.5 },
      ],
      [],
      [{ id: 2n ** 50n, score: -0.25 }],
    ];
    expect(decodeSearchResponse(encodeSearchResponse(results, 4))).toEqual(results);
  });

  it('rejects malformed messages with BAD_REQUEST, never a crash', () => {
    const good = encodeSearchRequest({ modelVersion: 'm', dimension: 4, queries: floats(4), k: 1 });
    const bad: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('GET / HTTP/1.1'),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.alloc(8)]),
      (() => {
        const b = Buffer.from(good);
        b.writeUInt32LE(1_000_000, 20); // nq far beyond the body
        return b;
      })(),
      (() => {
        const b = Buffer.from(good);
        b[4] = 9; // protocol version
        return b;
      })(),
      encodeDeleteRequest({ modelVersion: 'm', ids: BigInt64Array.of(1n) }), // wrong type
    ];
    for (const bytes of bad) {
      expect(() => decodeSearchRequest(bytes)).toThrow(ClusterError);
      try {
        decodeSearchRequest(bytes);
      } catch (error) {
        expect((error as ClusterError).code).toBe('BAD_REQUEST');
      }
    }
  });
});
