// Builds schema/persisted-operations.json (sha256 -> operation) from schema/operations/*.graphql,
// and schema/persisted-query-manifest.json (the same operations in Apollo's manifest format).
//   npm run operations:build              write the manifest
//   npm run operations:build -- --check   exit 1 when the committed manifest is out of date
//   npm run operations:build -- --validate   also validate every operation against schema/schema.graphql
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import {
  APOLLO_MANIFEST_PATH,
  buildApolloManifest,
  buildPersistedManifest,
  MANIFEST_PATH,
  OPERATIONS_DIR,
  serialiseManifest,
} from '../api/src/persisted/manifest.ts';

const args = new Set(process.argv.slice(2));
const manifest = buildPersistedManifest(OPERATIONS_DIR);
const text = serialiseManifest(manifest);
// the same operations in Apollo's format (the documents as Apollo Client sends them)
const apolloText = `${JSON.stringify(buildApolloManifest(manifest), null, 2)}\n`;

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
  for (const [file, expected] of [
    [MANIFEST_PATH, text],
    [APOLLO_MANIFEST_PATH, apolloText],
  ] as const) {
    const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (current !== expected) {
      console.error(`${file} is out of date; run npm run operations:build`);
      process.exit(1);
    }
  }
  console.log(`${MANIFEST_PATH} is up to date (${Object.keys(manifest).length} operations)`);
} else {
  writeFileSync(MANIFEST_PATH, text);
  writeFileSync(APOLLO_MANIFEST_PATH, apolloText);
  for (const [hash, op] of Object.entries(manifest)) console.log(`${hash}  ${op.type} ${op.name}`);
}
