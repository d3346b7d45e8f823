import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../../search-cluster/src/index.ts';
import { assertValidBlobKey, type BlobStore } from './blob-store.ts';

const FALLBACK_CONTENT_TYPE = 'application/octet-stream';

/**
 * Blobs as files under one directory: `<dir>/<key>` holds the bytes, a hidden sibling
 * `.<name>.type` the content type. Writes go to a hidden temp file that is renamed into place,
 * so a reader (or a crash) never sees half a blob.
 */
export class LocalBlobStore implements BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    const file = this.fileFor(key);
    await mkdir(path.dirname(file), { recursive: true });
    // The type first: a blob that exists always has its type beside it.
    await writeFileAtomic(typeFileFor(file), Buffer.from(contentType, 'utf8'));
    await writeFileAtomic(file, bytes);
  }

  async get(key: string): Promise<{ bytes: Buffer; contentType: string } | null> {
    const file = this.fileFor(key);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    let contentType = FALLBACK_CONTENT_TYPE;
    try {
      contentType = (await readFile(typeFileFor(file), 'utf8')) || FALLBACK_CONTENT_TYPE;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    return { bytes, contentType };
  }

  async delete(key: string): Promise<void> {
    const file = this.fileFor(key);
    await rm(file, { force: true });
    await rm(typeFileFor(file), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.fileFor(key))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  publicUrl(_key: string): string | null {
    return null;
  }

  async check(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const probe = path.join(this.dir, `.check-${randomBytes(6).toString('hex')}`);
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
  }

  private fileFor(key: string): string {
    assertValidBlobKey(key);
    const file = path.resolve(this.dir, key);
    // The key rules already exclude traversal; this keeps it so if they ever change.
    if (!file.startsWith(this.dir + path.sep))
      throw new Error(`Blob key ${JSON.stringify(key)} leaves ${this.dir}`);
    return file;
  }
}

const typeFileFor = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.type`);

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
