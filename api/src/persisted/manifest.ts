import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type DocumentNode, Kind, type OperationDefinitionNode, parse, print, visit } from 'graphql';
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
/** The same operations in Apollo's persisted query manifest format, as Apollo Client sends them. */
export const APOLLO_MANIFEST_PATH = path.join(repoRoot, 'schema/persisted-query-manifest.json');

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

/** Apollo's persisted query manifest (`@apollo/generate-persisted-query-manifest` writes the same). */
export interface ApolloPersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: { id: string; name: string; type: PersistedOperation['type']; body: string }[];
}

const TYPENAME = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } } as const;

/**
 * The document as Apollo Client sends it: `__typename` appended to every selection set but the
 * operation's own (the rule of `addTypenameToDocument` in @apollo/client), top-level definitions
 * sorted as `@apollo/persisted-query-lists` sorts them. Its print is what Apollo hashes.
 */
export function apolloForm(document: DocumentNode): DocumentNode {
  const typed = visit(document, {
    SelectionSet: {
      enter(node, _key, parent) {
        if (
          parent &&
          !Array.isArray(parent) &&
          (parent as { kind?: string }).kind === Kind.OPERATION_DEFINITION
        )
          return undefined;
        const hasTypename = node.selections.some(
          (s) => s.kind === Kind.FIELD && (s.name.value === '__typename' || s.name.value.startsWith('__')),
        );
        const exported =
          parent &&
          !Array.isArray(parent) &&
          (parent as { kind?: string }).kind === Kind.FIELD &&
          (parent as { directives?: readonly { name: { value: string } }[] }).directives?.some(
            (d) => d.name.value === 'export',
          );
        if (hasTypename || exported) return undefined;
        return { ...node, selections: [...node.selections, TYPENAME] };
      },
    },
  });
  const rank = (kind: string) => (kind === Kind.OPERATION_DEFINITION ? 0 : 1);
  const nameOf = (d: DocumentNode['definitions'][number]) =>
    d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION ? (d.name?.value ?? '') : '';
  const definitions = [...typed.definitions].sort(
    (a, b) => rank(a.kind) - rank(b.kind) || nameOf(a).localeCompare(nameOf(b)),
  );
  return { ...typed, definitions };
}

/** The Apollo-format manifest of a manifest: each operation in its Apollo form, id = sha256(body). */
export function buildApolloManifest(manifest: PersistedManifest): ApolloPersistedQueryManifest {
  const operations = Object.values(manifest)
    .map((op) => {
      const body = print(apolloForm(parse(op.document, { noLocation: true })));
      return { id: sha256Hex(body), name: op.name, type: op.type, body };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

/** Reads the Apollo-format manifest; fails with the command to run when it is missing or malformed. */
export function loadApolloManifest(file: string = APOLLO_MANIFEST_PATH): ApolloPersistedQueryManifest {
  let raw: Partial<ApolloPersistedQueryManifest>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the persisted query manifest ${file}; run npm run operations:build`, {
      cause: error,
    });
  }
  if (raw.format !== 'apollo-persisted-query-manifest' || raw.version !== 1 || !Array.isArray(raw.operations))
    throw new Error(`Expected ${file} to be an apollo-persisted-query-manifest of version 1`);
  for (const op of raw.operations) {
    if (typeof op?.body !== 'string' || typeof op.name !== 'string' || sha256Hex(op.body) !== op.id)
      throw new Error(`Persisted query ${op?.id} in ${file} is malformed or its id does not match`);
  }
  return raw as ApolloPersistedQueryManifest;
}

/**
 * Every id a client may send for an allow-listed operation: the manifest's own, and the id of
 * its Apollo form (Apollo's PersistedQueryLink hashes the document with `__typename` added).
 * The Apollo form runs as sent, so Apollo's cache gets the `__typename`s it asked for.
 */
export function allowListOf(
  manifest: PersistedManifest,
  apollo: ApolloPersistedQueryManifest | null,
): Map<string, PersistedOperation> {
  const byId = new Map(Object.entries(manifest));
  for (const op of apollo?.operations ?? []) {
    if (!byId.has(op.id)) byId.set(op.id, { name: op.name, type: op.type, document: op.body });
  }
  return byId;
}
