import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');

/** Writes bench/results/<name>.json and <name>.md; returns their paths. */
export async function writeResults(name: string, json: unknown, markdown: string): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const jsonPath = path.join(RESULTS_DIR, `${name}.json`);
  const mdPath = path.join(RESULTS_DIR, `${name}.md`);
  await writeFile(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(mdPath, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return [jsonPath, mdPath];
}

/** A markdown table from a header row and body rows. */
export function table(header: string[], rows: (string | number)[][], alignRight: number[] = []): string {
  const align = header.map((_, i) => (alignRight.includes(i) ? '---:' : '---'));
  return [header, align, ...rows.map((r) => r.map(String))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
