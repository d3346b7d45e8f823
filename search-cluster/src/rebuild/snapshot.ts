import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClusterError } from '../errors.ts';
import { writeVectorFile } from '../faiss/vector-file.ts';
import { syncPath, writeFileAtomic } from '../runtime/atomic-write.ts';
import type { MainTierKind, MainTierSearchParams } from '../shard/main-tier.ts';
import type { Partition } from '../shard/partition.ts';
import type { VectorIndex } from '../shard/vector-index.ts';
import type { NprobeCalibration } from './calibrate-nprobe.ts';

/**
 * A main tier on disk. One directory per snapshot under the model version's directory:
 *
 *   <dataDir>/<model version>/CURRENT            name of the live snapshot directory
 *   <dataDir>/<model version>/snap-<watermark>-<ms>/
 *       index.faiss    the ANN index as FAISS writes it
 *       vectors.pxvec  ids (ascending) and full-precision rows, the format of ../faiss/vector-file.ts,
 *                      memory-mapped for re-scoring or read into memory
 *       meta.json      SnapshotMeta below, written last, with size and CRC-32 of each file
 *
 * A snapshot is written to a temporary directory, fsynced and renamed into place, then CURRENT is
 * replaced by rename; a crash at any point leaves the previous snapshot readable. Readers verify
 * sizes and checksums before FAISS parses a byte, since a damaged index file can crash FAISS.
 */
export const SNAPSHOT_FORMAT = 1;

/** Header of a vectors.pxvec file (see search-cluster/native/src/vector-file.h). */
const PXVEC_MAGIC = 'PXVECF01';
const PXVEC_HEADER_BYTES = 32;
export const pxvecBytes = (count: number, dimension: number) =>
  PXVEC_HEADER_BYTES + count * 8 + count * dimension * 4;

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
  /** An IVF tier's measured default nprobe (calibrate-nprobe.ts); absent: the rule's default. */
  calibration?: NprobeCalibration;
  createdAt: string;
  files: { index: SnapshotFile; vectors: SnapshotFile };
}

export interface Snapshot {
  dir: string;
  meta: SnapshotMeta;
  indexPath: string;
  vectorsPath: string;
}

/** Directory of a model version's snapshots; the name is escaped so any version string is safe. */
export function modelDir(dataDir: string, modelVersion: string): string {
  return join(dataDir, encodeURIComponent(modelVersion).replace(/\./g, '%2E'));
}

async function fileCrc32(path: string): Promise<number> {
  let crc = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    crc = crc32(chunk as Buffer, crc);
  return crc;
}

export interface SnapshotInput {
  modelVersion: string;
  partition: Partition;
  watermark: bigint;
  kind: MainTierKind;
  factory: string;
  params: MainTierSearchParams;
  calibration?: NprobeCalibration;
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
    await writeVectorFile(join(tmp, 'vectors.pxvec'), input.index.dimension, input.vectors, input.ids);
    const fileInfo = async (name: string): Promise<SnapshotFile> => ({
      name,
      bytes: (await stat(join(tmp, name))).size,
      crc32: await fileCrc32(join(tmp, name)),
    });
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
      ...(input.calibration ? { calibration: input.calibration } : {}),
      createdAt: new Date().toISOString(),
      files: { index: await fileInfo('index.faiss'), vectors: await fileInfo('vectors.pxvec') },
    };
    await writeFileAtomic(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    await rename(tmp, join(root, name));
    // CURRENT names the new snapshot only once the snapshot is durable under its name
    await syncPath(root);
    await writeFileAtomic(join(root, 'CURRENT'), `${name}\n`);
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
    vectorsPath: join(dir, meta.files.vectors.name),
  };
}

async function removeOldSnapshots(root: string, keep: string): Promise<void> {
  for (const entry of await readdir(root)) {
    if (entry !== keep && (entry.startsWith('snap-') || entry.startsWith('.tmp-'))) {
      // retried: a serving tier's filter-codes build may create its file there meanwhile (ENOTEMPTY)
      await rm(join(root, entry), { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
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
  for (const file of [meta.files.index, meta.files.vectors]) {
    const path = join(dir, file.name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw corrupt(dir, `${file.name} is missing`);
    }
    if (size !== file.bytes)
      throw corrupt(dir, `${file.name} has ${size} bytes, meta.json says ${file.bytes}`);
    const crc = await fileCrc32(path);
    if (crc !== file.crc32)
      throw corrupt(dir, `${file.name} fails its checksum (crc32 ${crc} != ${file.crc32})`);
  }
  return snapshotAt(dir, meta);
}

function checkMeta(meta: SnapshotMeta, expected: SnapshotExpectation): string | null {
  if (typeof meta !== 'object' || meta === null) return 'meta.json is not an object';
  if (meta.format !== SNAPSHOT_FORMAT) return `format ${String(meta.format)} is not ${SNAPSHOT_FORMAT}`;
  if (meta.modelVersion !== expected.modelVersion)
    return `it holds model version ${String(meta.modelVersion)}`;
  if (meta.dimension !== expected.dimension) {
    return `its dimension is ${String(meta.dimension)}, the model version's is ${expected.dimension}`;
  }
  if (
    meta.partition?.index !== expected.partition.index ||
    meta.partition?.count !== expected.partition.count
  ) {
    return `it was built for shard ${meta.partition?.index}/${meta.partition?.count}, this is shard ${expected.partition.index}/${expected.partition.count}`;
  }
  if (meta.partition.placement !== expected.partition.placement) {
    const name = (p: string | undefined) => p ?? 'ids by hash';
    return `its vectors were placed by ${name(meta.partition.placement)}, this shard places by ${name(expected.partition.placement)}`;
  }
  if (!/^[0-9]+$/.test(String(meta.watermark)))
    return `watermark "${String(meta.watermark)}" is not a number`;
  if (!Number.isInteger(meta.count) || meta.count < 0) return `count ${String(meta.count)} is invalid`;
  if (!['flat', 'hnsw', 'ivfpq'].includes(meta.kind)) return `kind ${String(meta.kind)} is unknown`;
  if (
    meta.calibration !== undefined &&
    !(Number.isInteger(meta.calibration?.nprobe) && meta.calibration.nprobe > 0)
  )
    return `calibrated nprobe ${String(meta.calibration?.nprobe)} is not a positive integer`;
  const files = meta.files;
  if (!files?.index || !files.vectors) return 'files are missing from meta.json';
  for (const f of [files.index, files.vectors]) {
    if (typeof f.name !== 'string' || !/^[a-z0-9.]+$/.test(f.name))
      return `file name ${String(f.name)} is invalid`;
  }
  if (files.vectors.bytes !== pxvecBytes(meta.count, meta.dimension)) {
    return `${files.vectors.name} should hold ${meta.count} vectors of dimension ${meta.dimension}`;
  }
  return null;
}

/** Moves an unusable snapshot aside (kept for inspection) so the next start does not trip on it. */
export async function quarantineSnapshot(dataDir: string, modelVersion: string): Promise<void> {
  const root = modelDir(dataDir, modelVersion);
  await rm(join(root, 'CURRENT'), { force: true });
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (entry.startsWith('snap-'))
      await rename(join(root, entry), join(root, `corrupt-${Date.now()}-${entry}`));
  }
}

/** Reads the ids (ascending) of a snapshot's vector file, checking its header. */
export async function readIds(snapshot: Snapshot): Promise<BigInt64Array> {
  const { count, dimension } = snapshot.meta;
  const file = await open(snapshot.vectorsPath, 'r');
  try {
    const header = Buffer.alloc(PXVEC_HEADER_BYTES);
    await file.read(header, 0, PXVEC_HEADER_BYTES, 0);
    if (
      header.toString('latin1', 0, 8) !== PXVEC_MAGIC ||
      header.readUInt32LE(8) !== dimension ||
      header.readBigUInt64LE(16) !== BigInt(count)
    ) {
      throw corrupt(snapshot.dir, `${snapshot.meta.files.vectors.name} header does not match meta.json`);
    }
    const ids = new BigInt64Array(count);
    await file.read(new Uint8Array(ids.buffer), 0, ids.byteLength, PXVEC_HEADER_BYTES);
    return ids;
  } finally {
    await file.close();
  }
}

/** Reads a snapshot's full-precision rows into memory (row i belongs to readIds()[i]). */
export async function readVectors(snapshot: Snapshot): Promise<Float32Array> {
  const { count, dimension } = snapshot.meta;
  const file = await open(snapshot.vectorsPath, 'r');
  try {
    const vectors = new Float32Array(count * dimension);
    const bytes = new Uint8Array(vectors.buffer);
    const start = PXVEC_HEADER_BYTES + count * 8;
    for (let done = 0; done < bytes.length; ) {
      const { bytesRead } = await file.read(
        bytes,
        done,
        Math.min(1 << 26, bytes.length - done),
        start + done,
      );
      if (bytesRead === 0) throw corrupt(snapshot.dir, 'vector file ends early');
      done += bytesRead;
    }
    return vectors;
  } finally {
    await file.close();
  }
}
