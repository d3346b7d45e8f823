import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, type OperationDefinitionNode, parse, print } from 'graphql';
import { PACKAGE_ROOT } from '../../../search-cluster/src/index.ts';

/** One allow-listed operation; its id is the sha256 (hex) of `document` exactly as stored. */
export interface PersistedOperation {
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  document: string;
}

/** `schema/persisted-operations.json`: sha256 hex -> operation. The edge bundles the same file. */
export type PersistedManifest = Record<string, PersistedOperation>;

const repoRoot = PACKAGE_ROOT;

/** Where the operation files and the built manifest live. */
export const OPERATIONS_DIR = path.join(repoRoot, 'schema/operations');
export const MANIFEST_PATH = path.join(repoRoot, 'schema/persisted-operations.json');

export const HEX_SHA256 = /^[0-9a-f]{64}$/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Reads every `*.graphql` file under `dir` (one named operation each, fragments allowed) and
 * returns the manifest, keyed and sorted by hash so the built file is stable.
 */
export function buildPersistedManifest(dir: string = OPERATIONS_DIR): PersistedManifest {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.graphql'))
    .sort();
  const byHash = new Map<string, PersistedOperation>();
  const names = new Map<string, string>();
  for (const file of files) {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const document = parse(source, { noLocation: true });
    const operations = document.definitions.filter(
      (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
    );
    if (operations.length !== 1) {
      throw new Error(`Expected exactly one operation in ${file} but found ${operations.length}`);
    }
    const operation = operations[0]!;
    const name = operation.name?.value;
    if (!name) throw new Error(`Expected the operation in ${file} to be named`);
    const seenIn = names.get(name);
    if (seenIn) throw new Error(`Operation ${name} is defined in both ${seenIn} and ${file}`);
    names.set(name, file);
    // print() drops comments and fixes the layout, so a reformatted file keeps its id
    const text = print(document);
    byHash.set(sha256Hex(text), { name, type: operation.operation, document: text });
  }
  return Object.fromEntries([...byHash.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export function serialiseManifest(manifest: PersistedManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Reads the built manifest; fails with the command to run when it is missing or malformed. */
export function loadPersistedManifest(file: string = MANIFEST_PATH): PersistedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the persisted operations manifest ${file}; run npm run operations:build`, {
      cause: error,
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`Expected ${file} to hold an object of sha256 -> operation`);
  }
  for (const [hash, entry] of Object.entries(raw)) {
    const op = entry as Partial<PersistedOperation> | null;
    if (
      !HEX_SHA256.test(hash) ||
      typeof op?.document !== 'string' ||
      typeof op.name !== 'string' ||
      sha256Hex(op.document) !== hash
    ) {
      throw new Error(`Persisted operation ${hash} in ${file} is malformed or its hash does not match`);
    }
  }
  return raw as PersistedManifest;
}
