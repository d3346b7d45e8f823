/**
 * Downloads a known model (a shipped manifest with a Hugging Face repository) into the models
 * directory, for machines that are online:
 *
 *   npm run model:download                                # clip-vit-b32-fp32 (~600 MB)
 *   npm run model:download -- clip-vit-b32-q8             # 8-bit quantised (~150 MB)
 *   npm run model:download -- siglip-base-patch16-224     # SigLIP (Xenova export)
 *   npm run model:download -- siglip2-base-patch16-224    # SigLIP 2 (onnx-community export)
 *   npm run model:download -- mobileclip-s0               # MobileCLIP S0 (Xenova export)
 *   npm run model:download -- --models-dir /srv/models --force
 *
 * Files go to ${MODELS_DIR:-${DATA_DIR:-./data}/models}/<folder>/ in the Hugging Face layout,
 * each checked against its checksum, with the model's pixelfind-model.json beside them.
 * HF_ENDPOINT and HF_TOKEN are honoured. No test or CI step needs this: they run the generated
 * tiny models.
 */
import { parseArgs } from 'node:util';
import { loadDownloadConfig } from '../../api/src/config/config.ts';
import { downloadModel } from '../../api/src/encoder/download.ts';
import {
  DEFAULT_REAL_MODEL_VERSION,
  getModelEntry,
  MODELS,
  modelDirOf,
  modelsDirFrom,
} from '../../api/src/encoder/registry.ts';
import { loadOrExit } from '../../search-cluster/src/index.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'models-dir': { type: 'string' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const downloadable = Object.values(MODELS).filter((m) => m.download);
if (values.help) {
  console.log('Usage: npm run model:download -- [model_version ...] [--models-dir DIR] [--force]\n\nModels:');
  for (const m of downloadable) console.log(`  ${m.modelVersion.padEnd(20)} ${m.name}`);
  process.exit(0);
}

const versions = positionals.length > 0 ? positionals : [DEFAULT_REAL_MODEL_VERSION];
const config = loadOrExit(() => loadDownloadConfig(process.env));
const modelsDir = modelsDirFrom({ modelsDir: values['models-dir'] ?? config.modelsDir });
try {
  for (const version of versions) {
    const entry = getModelEntry(version);
    const dir = modelDirOf(entry, modelsDir);
    console.error(`${entry.modelVersion}: ${entry.name}\n  -> ${dir}`);
    const files = await downloadModel({
      entry,
      dir,
      force: values.force,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.token ? { token: config.token } : {}),
    });
    const fetched = files.filter((f) => f.status === 'downloaded').length;
    console.error(
      `${entry.modelVersion}: ${fetched} downloaded, ${files.length - fetched} already present; checksums in ${dir}/checksums.sha256`,
    );
  }
  console.error(
    'Done. The API picks clip-vit-b32-fp32 by default once present; other models: set PIXELFIND_MODEL to the version.',
  );
} catch (error) {
  console.error(`model:download failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
