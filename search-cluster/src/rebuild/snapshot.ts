import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClusterError } from '../errors.ts';
import type { MainTierKind, MainTierSearchParams } from '../shard/main-tier.ts';
import type { Partition } from '../shard/partition.ts';
import type { VectorIndex } from '../shard/vector-index.ts';

/**
 * A main tier on disk. One directory per snapshot under the model version's directory:
 *
 *   <dataDir>/<model version>/CURRENT            name of the live snapshot directory
 *   <dataDir>/<model version>/snap-<watermark>-<ms>/
 *       index.faiss    the ANN index as FAISS writes it
 *       ids.i64        row order ids, little-endian int64
 *       vectors.f32    full-precision rows, little-endian float32 (re-scoring, exact scans)
 *       meta.json      SnapshotMeta below, written last, with size and CRC-32 of each file
 *
 * A snapshot is written to a temporary directory, fsynced and renamed into place, then CURRENT is
 * replaced by rename; a crash at any point leaves the previous snapshot readable. Readers verify
 * sizes and checksums before FAISS parses a byte, since a damaged index file can crash FAISS.
 */
export const SNAPSHOT_FORMAT = 1;

export interface SnapshotFile {
  name: string;
  bytes: number;
  crc32: number;
}

export interface SnapshotMeta {
  format: typeof SNAPSHOT_FORMAT;
  modelVersion: string;
  dimension: number;
  partition: Partition;
  /** Source watermark the tier was built at (decimal string: JSON has no int64). */
  watermark: string;
  count: number;
  kind: MainTierKind;
  factory: string;
  params: MainTierSearchParams;
  createdAt: string;
  files: { index: SnapshotFile; ids: SnapshotFile; vectors: SnapshotFile };
}

export interface Snapshot {
  dir: string;
  meta: SnapshotMeta;
  indexPath: string;
  idsPath: string;
  vectorsPath: string;
}

/** Directory of a model version's snapshots; the name is escaped so any version string is safe. */
export function modelDir(dataDir: string, modelVersion: string): string {
  return join(dataDir, encodeURIComponent(modelVersion).replace(/\./g, '%2E'));
}

async function writeDurably(path: string, data: Uint8Array): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fileCrc32(path: string): Promise<number> {
  let crc = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) crc = crc32(chunk as Buffer, crc);
  return crc;
}

const bytesOf = (array: BigInt64Array | Float32Array) =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

export interface SnapshotInput {
  modelVersion: string;
  partition: Partition;
  watermark: bigint;
  kind: MainTierKind;
  factory: string;
  params: MainTierSearchParams;
  index: VectorIndex;
  ids: BigInt64Array;
  vectors: Float32Array;
}

/** Writes a snapshot and makes it CURRENT; older snapshots of the model version are removed. */
export async function writeSnapshot(dataDir: string, input: SnapshotInput): Promise<Snapshot> {
  const root = modelDir(dataDir, input.modelVersion);
  await mkdir(root, { recursive: true });
  const name = `snap-${input.watermark.toString().padStart(20, '0')}-${Date.now()}`;
  const tmp = join(root, `.tmp-${name}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  try {
    await input.index.write(join(tmp, 'index.faiss'));
    await syncPath(join(tmp, 'index.faiss'));
    const ids = bytesOf(input.ids);
    const vectors = bytesOf(input.vectors);
    await writeDurably(join(tmp, 'ids.i64'), ids);
    await writeDurably(join(tmp, 'vectors.f32'), vectors);
    const indexStat = await stat(join(tmp, 'index.faiss'));
    const meta: SnapshotMeta = {
      format: SNAPSHOT_FORMAT,
      modelVersion: input.modelVersion,
      dimension: input.index.dimension,
      partition: input.partition,
      watermark: input.watermark.toString(),
      count: input.ids.length,
      kind: input.kind,
      factory: input.factory,
      params: input.params,
      createdAt: new Date().toISOString(),
      files: {
        index: { name: 'index.faiss', bytes: indexStat.size, crc32: await fileCrc32(join(tmp, 'index.faiss')) },
        ids: { name: 'ids.i64', bytes: ids.byteLength, crc32: crc32(ids) },
        vectors: { name: 'vectors.f32', bytes: vectors.byteLength, crc32: crc32(vectors) },
      },
    };
    await writeDurably(join(tmp, 'meta.json'), Buffer.from(JSON.stringify(meta, null, 2)));
    await syncPath(tmp);
    await rename(tmp, join(root, name));
    await writeDurably(join(root, 'CURRENT.tmp'), Buffer.from(`${name}\n`));
    await rename(join(root, 'CURRENT.tmp'), join(root, 'CURRENT'));
    await syncPath(root);
    await removeOldSnapshots(root, name);
    return snapshotAt(join(root, name), meta);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

function snapshotAt(dir: string, meta: SnapshotMeta): Snapshot {
  return {
    dir,
    meta,
    indexPath: join(dir, meta.files.index.name),
    idsPath: join(dir, meta.files.ids.name),
    vectorsPath: join(dir, meta.files.vectors.name),
  };
}

async function removeOldSnapshots(root: string, keep: string): Promise<void> {
  for (const entry of await readdir(root)) {
    if (entry !== keep && (entry.startsWith('snap-') || entry.startsWith('.tmp-'))) {
      await rm(join(root, entry), { recursive: true, force: true });
    }
  }
}

const corrupt = (dir: string, why: string) =>
  new ClusterError('SNAPSHOT_CORRUPT', `Snapshot ${dir} is unusable: ${why}`);

export interface SnapshotExpectation {
  modelVersion: string;
  dimension: number;
  partition: Partition;
}

/**
 * The verified CURRENT snapshot of a model version, or null when none was ever written.
 * Throws ClusterError('SNAPSHOT_CORRUPT') when one exists but cannot be trusted.
 */
export async function readSnapshot(dataDir: string, expected: SnapshotExpectation): Promise<Snapshot | null> {
  const root = modelDir(dataDir, expected.modelVersion);
  let name: string;
  try {
    name = (await readFile(join(root, 'CURRENT'), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const dir = join(root, name);
  if (!/^snap-[0-9]+-[0-9]+$/.test(name)) throw corrupt(dir, `CURRENT names "${name.slice(0, 80)}"`);
  let meta: SnapshotMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as SnapshotMeta;
  } catch (error) {
    throw corrupt(dir, `meta.json: ${(error as Error).message}`);
  }
  const problem = checkMeta(meta, expected);
  if (problem) throw corrupt(dir, problem);
  for (const file of [meta.files.index, meta.files.ids, meta.files.vectors]) {
    const path = join(dir, file.name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw corrupt(dir, `${file.name} is missing`);
    }
    if (size !== file.bytes) throw corrupt(dir, `${file.name} has ${size} bytes, meta.json says ${file.bytes}`);
    const crc = await fileCrc32(path);
    if (crc !== file.crc32) throw corrupt(dir, `${file.name} fails its checksum (crc32 ${crc} != ${file.crc32})`);
  }
  return snapshotAt(dir, meta);
}

function checkMeta(meta: SnapshotMeta, expected: SnapshotExpectation): string | null {
  if (typeof meta !== 'object' || meta === null) return 'meta.json is not an object';
  if (meta.format !== SNAPSHOT_FORMAT) return `format ${String(meta.format)} is not ${SNAPSHOT_FORMAT}`;
  if (meta.modelVersion !== expected.modelVersion) return `it holds model version ${String(meta.modelVersion)}`;
  if (meta.dimension !== expected.dimension) {
    return `its dimension is ${String(meta.dimension)}, the model version's is ${expected.dimension}`;
  }
  if (meta.partition?.index !== expected.partition.index || meta.partition?.count !== expected.partition.count) {
    return `it was built for shard ${meta.partition?.index}/${meta.partition?.count}, this is shard ${expected.partition.index}/${expected.partition.count}`;
  }
  if (!/^[0-9]+$/.test(String(meta.watermark))) return `watermark "${String(meta.watermark)}" is not a number`;
  if (!Number.isInteger(meta.count) || meta.count < 0) return `count ${String(meta.count)} is invalid`;
  if (!['flat', 'hnsw', 'ivfpq'].includes(meta.kind)) return `kind ${String(meta.kind)} is unknown`;
  const files = meta.files;
  if (!files?.index || !files.ids || !files.vectors) return 'files are missing from meta.json';
  for (const f of [files.index, files.ids, files.vectors]) {
    if (typeof f.name !== 'string' || !/^[a-z0-9.]+$/.test(f.name)) return `file name ${String(f.name)} is invalid`;
  }
  if (files.ids.bytes !== meta.count * 8) return `ids.i64 should hold ${meta.count} ids`;
  if (files.vectors.bytes !== meta.count * meta.dimension * 4) return `vectors.f32 should hold ${meta.count} vectors`;
  return null;
}

/** Moves an unusable snapshot aside (kept for inspection) so the next start does not trip on it. */
export async function quarantineSnapshot(dataDir: string, modelVersion: string): Promise<void> {
  const root = modelDir(dataDir, modelVersion);
  await rm(join(root, 'CURRENT'), { force: true });
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (entry.startsWith('snap-')) await rename(join(root, entry), join(root, `corrupt-${Date.now()}-${entry}`));
  }
}

/** Reads a snapshot's ids file into memory. */
export async function readIds(snapshot: Snapshot): Promise<BigInt64Array> {
  const buf = await readFile(snapshot.idsPath);
  const ids = new BigInt64Array(snapshot.meta.count);
  new Uint8Array(ids.buffer).set(buf);
  return ids;
}

/** Reads a snapshot's full-precision vectors into memory. */
export async function readVectors(snapshot: Snapshot): Promise<Float32Array> {
  const buf = await readFile(snapshot.vectorsPath);
  const vectors = new Float32Array(snapshot.meta.count * snapshot.meta.dimension);
  new Uint8Array(vectors.buffer).set(buf);
  return vectors;
}
