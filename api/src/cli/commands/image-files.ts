import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CliFailure } from '../errors.ts';

/** What `ingest` and `eval` send: the image types the API accepts, by file name. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif']);

export interface ImageFile {
  path: string;
  /** Folders between the directory given on the command line and the file (none for a file given). */
  folders: string[];
}

/** The image files under `inputs` (directories recursively, in name order); hidden entries skipped. */
export async function listImageFiles(inputs: readonly string[]): Promise<ImageFile[]> {
  const files: ImageFile[] = [];
  const walk = async (dir: string, folders: string[]) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, [...folders, entry.name]);
      else if (entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
        files.push({ path: full, folders });
    }
  };
  for (const input of inputs) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(input);
    } catch (error) {
      throw new CliFailure(`Cannot read ${input}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    if (info.isDirectory()) await walk(input, []);
    else files.push({ path: input, folders: [] });
  }
  return files;
}

/** Hex SHA-256 of a file's bytes, streamed (the API de-duplicates by the same hash). */
export function sha256OfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}
