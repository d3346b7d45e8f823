import { describe, expect, it } from 'vitest';
import { FaissIndex, setFaissThreads } from './faiss-index.ts';
import { loadNative } from './load-native.ts';

const DIM = 8;
const one = () => new Float32Array(DIM).fill(1 / Math.sqrt(DIM));

describe('bad input is refused with a message that says what was expected', () => {
  const index = FaissIndex.create(DIM, 'Flat');

  it('k must be a positive integer no larger than 1000', async () => {
    await expect(index.search(one(), -1)).rejects.toThrow(
      'Expected positive integer for k but received -1 of type number',
    );
    await expect(index.search(one(), 0)).rejects.toThrow(
      'Expected positive integer for k but received 0 of type number',
    );
    await expect(index.search(one(), 2.5)).rejects.toThrow(
      'Expected positive integer for k but received 2.5 of type number',
    );
    await expect(index.search(one(), '10' as unknown as number)).rejects.toThrow(
      'Expected positive integer for k but received "10" of type string',
    );
    await expect(index.search(one(), 1001)).rejects.toThrow('Expected k at most 1000 but received 1001');
  });

  it('vectors must be a Float32Array whose length is a multiple of the dimension', async () => {
    await expect(index.search(new Float32Array(12), 1)).rejects.toThrow(
      'Expected queries length to be a multiple of dimension 8 but received 12',
    );
    const wide = FaissIndex.create(512, 'Flat');
    await expect(wide.add(new Float32Array(1000), new BigInt64Array(1))).rejects.toThrow(
      'Expected vectors length to be a multiple of dimension 512 but received 1000',
    );
    wide.close();
    await expect(index.search(new Float32Array(0), 1)).rejects.toThrow(
      'Expected at least one vector in queries but received none',
    );
    await expect(index.add([1, 2, 3] as unknown as Float32Array, new BigInt64Array(1))).rejects.toThrow(
      'Expected Float32Array for vectors but received Array of type object',
    );
    await expect(index.train(new Float64Array(8) as unknown as Float32Array)).rejects.toThrow(
      'Expected Float32Array for vectors but received Float64Array of type object',
    );
  });

  it('NaN and infinite values are refused with their position', async () => {
    const bad = one();
    bad[3] = Number.NaN;
    await expect(index.add(bad, new BigInt64Array([1n]))).rejects.toThrow(
      'Expected finite values in vectors but found NaN at index 3',
    );
    const inf = one();
    inf[5] = Number.NEGATIVE_INFINITY;
    await expect(index.search(inf, 1)).rejects.toThrow(
      'Expected finite values in queries but found -Infinity at index 5',
    );
  });

  it('ids must be a BigInt64Array with one non-negative id per vector', async () => {
    await expect(index.add(one(), new BigInt64Array(2))).rejects.toThrow(
      'Expected ids length 1 (one per vector) but received 2',
    );
    await expect(index.add(one(), [1n] as unknown as BigInt64Array)).rejects.toThrow(
      'Expected BigInt64Array for ids but received Array of type object',
    );
    await expect(index.add(one(), new BigInt64Array([-1n]))).rejects.toThrow(
      'Expected non-negative ids in ids but found -1 at index 0',
    );
    await expect(index.remove(new Float64Array(1) as unknown as BigInt64Array)).rejects.toThrow(
      'Expected BigInt64Array for ids but received Float64Array of type object',
    );
  });

  it('search options are checked by name and value', async () => {
    await expect(index.search(one(), 1, { nprobe: 0 })).rejects.toThrow(
      'Expected positive integer for nprobe but received 0 of type number',
    );
    await expect(index.search(one(), 1, { efSearch: -5 })).rejects.toThrow(
      'Expected positive integer for efSearch but received -5 of type number',
    );
    await expect(index.search(one(), 1, { nprobes: 4 } as never)).rejects.toThrow(
      'Expected one of nprobe, efSearch, allowedIds for search option but received "nprobes" of type string',
    );
    await expect(index.search(one(), 1, { allowedIds: [1n] } as never)).rejects.toThrow(
      'Expected BigInt64Array for allowedIds but received Array of type object',
    );
  });

  it('creation arguments are checked, and a bad factory string says so', async () => {
    expect(() => FaissIndex.create(0, 'Flat')).toThrow(
      'Expected positive integer for dimension but received 0 of type number',
    );
    expect(() => FaissIndex.create(8, '')).toThrow(
      'Expected non-empty FAISS factory string for factory but received "" of type string',
    );
    expect(() => FaissIndex.create(8, 'NotAnIndex')).toThrow(
      "Could not create index from factory string 'NotAnIndex': could not parse index string NotAnIndex",
    );
    await expect(FaissIndex.fromBuffer(new Uint8Array(0))).rejects.toThrow(
      'Expected a non-empty buffer for bytes but received 0 bytes',
    );
    await expect(FaissIndex.read('')).rejects.toThrow(
      'Expected non-empty string for path but received "" of type string',
    );
    expect(() => FaissIndex.create(8, 'HNSW32', { efConstruction: 0 })).toThrow(
      'Expected positive integer for efConstruction but received 0 of type number',
    );
    expect(() => FaissIndex.create(8, 'HNSW32', { efSearch: 5 } as never)).toThrow(
      'Expected efConstruction for create option but received "efSearch" of type string',
    );
    expect(() => setFaissThreads(-2)).toThrow(
      'Expected positive integer for threads but received -2 of type number',
    );
  });

  it('a missing addon says what to install and run', () => {
    expect(() => loadNative('/nonexistent/pixelfind_faiss.node')).toThrow(
      /not built.*apt-get install libfaiss-dev libopenblas-dev.*npm run build:native/,
    );
  });
});
