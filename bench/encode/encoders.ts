import path from 'node:path';
import { createEncoder, type Encoder } from '../../api/src/encoder/index.ts';
import { getModelEntry, missingFiles, modelDirOf, modelsDirFrom } from '../../api/src/encoder/registry.ts';
import { batchOf, type EncodeInputs } from './inputs.ts';
import { measure, type Row } from './measure.ts';

/** The encoders' logger: progress is the bench's own, warnings still show. */
export const quiet = { info: () => {}, warn: (m: string) => console.error(m) };

/** Texts and images at batch 1 and 16; `heavy` (a real CLIP) makes a quarter of the calls. */
export async function benchEncoder(
  encoder: Encoder,
  heavy: boolean,
  { texts, images }: EncodeInputs,
  scale: number,
): Promise<Row[]> {
  const m = encoder.modelVersion;
  const k = heavy ? 0.25 : 1;
  const n = (x: number) => Math.max(5, Math.round(x * k * scale));
  return [
    await measure(m, 'text', 1, n(300), (i) => encoder.encodeText(texts[i % texts.length]!)),
    await measure(m, 'text', 16, n(60), (i) => encoder.encodeTexts(batchOf(texts, i, 16))),
    await measure(m, 'image', 1, n(150), (i) => encoder.encodeImage(images[i % images.length]!)),
    await measure(m, 'image', 16, n(20), (i) => encoder.encodeImages(batchOf(images, i, 16))),
  ];
}

/**
 * The real CLIP versions whose files are present; a note for each one that is not (pushed onto
 * `notes` and logged).
 */
export async function clipRows(inputs: EncodeInputs, scale: number, notes: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const version of ['clip-vit-b32-fp32', 'clip-vit-b32-q8']) {
    const entry = getModelEntry(version);
    const dir = modelDirOf(entry, modelsDirFrom());
    const missing = await missingFiles(entry, dir);
    if (missing.length > 0) {
      notes.push(
        `${version}: not measured, its files are not in ${path.relative(process.cwd(), dir)} (\`npm run model:download -- ${version}\`).`,
      );
      console.error(notes.at(-1));
      continue;
    }
    const encoder = await createEncoder({ model: version, logger: quiet });
    rows.push(...(await benchEncoder(encoder, true, inputs, scale)));
    await encoder.close();
  }
  return rows;
}
