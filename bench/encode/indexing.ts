import { makePatternImage } from '../../test/fixtures/images/make-patterns.ts';
import { type IndexRun, measureIndexing } from '../support/index-end-to-end.ts';

/**
 * Indexing end to end: the worker draining uploads of 512 x 512 photo-like JPEGs (textured, so
 * they have a pHash and decode like pictures, not like flat colours), in memory and, with
 * DATABASE_URL, on Postgres. Returns the runs and how many uploads each one timed.
 */
export async function indexingRuns(scale: number): Promise<{ indexCount: number; indexRuns: IndexRun[] }> {
  const indexCount = Math.max(32, Math.round(320 * scale));
  const indexImages = await Promise.all(
    Array.from({ length: indexCount + 16 }, (_, i) =>
      makePatternImage(1000 + i, { width: 512, height: 512, format: 'jpeg' }),
    ),
  );
  const indexRuns: IndexRun[] = [];
  for (const databaseUrl of [null, ...(process.env.DATABASE_URL ? [process.env.DATABASE_URL] : [])]) {
    const run = await measureIndexing({
      images: indexImages.slice(16),
      warmUp: indexImages.slice(0, 16),
      databaseUrl,
    });
    console.error(
      `index end to end (${run.database}): ${run.imagesPerSecond} images/s, CPU ${run.cpuMsPerImage} ms/image, ${JSON.stringify(run.outcomes)}`,
    );
    indexRuns.push(run);
  }
  return { indexCount, indexRuns };
}
