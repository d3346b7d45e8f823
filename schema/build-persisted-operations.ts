// Builds schema/persisted-operations.json (sha256 -> operation) from schema/operations/*.graphql.
//   npm run operations:build              write the manifest
//   npm run operations:build -- --check   exit 1 when the committed manifest is out of date
//   npm run operations:build -- --validate   also validate every operation against schema/schema.graphql
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import {
  buildPersistedManifest,
  MANIFEST_PATH,
  OPERATIONS_DIR,
  serialiseManifest,
} from '../api/src/persisted/manifest.ts';

const args = new Set(process.argv.slice(2));
const manifest = buildPersistedManifest(OPERATIONS_DIR);
const text = serialiseManifest(manifest);

if (args.has('--validate')) {
  const schemaFile = path.join(path.dirname(MANIFEST_PATH), 'schema.graphql');
  if (!existsSync(schemaFile)) {
    console.error(`--validate needs ${schemaFile}; print the schema first`);
    process.exit(1);
  }
  const schema = buildSchema(readFileSync(schemaFile, 'utf8'));
  let failed = false;
  for (const op of Object.values(manifest)) {
    for (const error of validate(schema, parse(op.document))) {
      failed = true;
      console.error(`${op.name}: ${error.message}`);
    }
  }
  if (failed) process.exit(1);
}

if (args.has('--check')) {
  const current = existsSync(MANIFEST_PATH) ? readFileSync(MANIFEST_PATH, 'utf8') : '';
  if (current !== text) {
    console.error(`${MANIFEST_PATH} is out of date; run npm run operations:build`);
    process.exit(1);
  }
  console.log(`${MANIFEST_PATH} is up to date (${Object.keys(manifest).length} operations)`);
} else {
  writeFileSync(MANIFEST_PATH, text);
  for (const [hash, op] of Object.entries(manifest)) console.log(`${hash}  ${op.type} ${op.name}`);
}
