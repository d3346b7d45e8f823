/**
 * Renders a kustomization the way `kubectl kustomize` does, for the subset of kustomize that
 * infra/k8s/ uses, so the manifests are checked on a machine without kubectl (Debian 12 has no
 * kubectl with kustomize v5). Where kubectl is installed, k8s-manifests.test.ts renders with both
 * and requires the same objects, so this cannot drift from kustomize unnoticed.
 *
 * Supported fields: `resources` (files and directories holding a kustomization), `namespace`,
 * `labels` (pairs on metadata.labels only: no selectors, no templates), `images` (newName,
 * newTag) and `patches` with an inline JSON 6902 patch and a `{ kind, name }` target. Any other
 * field throws, so a manifest change that needs more fails loudly instead of rendering wrong.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'patches']);
/** Kinds without a namespace among those a kustomization might hold. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

/** Every object the kustomization in `dir` produces. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((name) => path.join(dir, name))
    .find((candidate) => existsSync(candidate));
  if (!file) throw new Error(`no kustomization in ${dir}`);
  const k = parse(readFileSync(file, 'utf8')) as Kustomization;
  for (const field of Object.keys(k)) {
    if (!SUPPORTED.has(field)) throw new Error(`${file}: kustomize field "${field}" is not supported here`);
  }

  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const target = path.resolve(dir, resource);
    objects.push(...(statSync(target).isDirectory() ? renderKustomization(target) : readObjects(target)));
  }
  for (const { target, patch } of k.patches ?? []) {
    const matches = objects.filter((o) => o.kind === target.kind && o.metadata.name === target.name);
    if (matches.length === 0)
      throw new Error(`${file}: patch target ${target.kind}/${target.name} matches nothing`);
    const ops = parse(patch) as JsonPatchOp[];
    objects = objects.map((o) => (matches.includes(o) ? applyJsonPatch(o, ops) : o));
  }
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const label of k.labels ?? []) {
    if (label.includeSelectors || label.includeTemplates) {
      throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported here`);
    }
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...label.pairs };
  }
  for (const image of k.images ?? []) {
    for (const o of objects) for (const c of podContainers(o)) c.image = retag(c.image, image);
  }
  return objects;
}

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** The containers and init containers of a workload's pod template (also a CronJob's). */
export function podContainers(o: K8sObject): { image: string; [key: string]: unknown }[] {
  const spec = podSpecOf(o);
  if (!spec) return [];
  return [...((spec.initContainers as []) ?? []), ...((spec.containers as []) ?? [])];
}

/** The pod spec of a Deployment, StatefulSet, Job, CronJob, ...; undefined for other kinds. */
export function podSpecOf(o: K8sObject): Record<string, unknown> | undefined {
  type Template = { template?: { spec?: Record<string, unknown> } };
  const spec = o.spec as (Template & { jobTemplate?: { spec?: Template } }) | undefined;
  return spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec;
}

function retag(ref: string, image: { name: string; newName?: string; newTag?: string }): string {
  const at = ref.indexOf('@');
  const withoutDigest = at >= 0 ? ref.slice(0, at) : ref;
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  if (name !== image.name) return ref;
  const tag = image.newTag ?? (hasTag ? withoutDigest.slice(colon + 1) : undefined);
  return `${image.newName ?? name}${tag ? `:${tag}` : ''}${image.newTag || at < 0 ? '' : ref.slice(at)}`;
}

interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** RFC 6902 add, replace and remove on a copy of `doc`. */
export function applyJsonPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  const root = structuredClone(doc) as unknown;
  for (const { op, path: pointer, value } of ops) {
    const keys = pointer
      .split('/')
      .slice(1)
      .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop();
    if (last === undefined) throw new Error(`JSON patch: empty path in ${op}`);
    let parent = root as Record<string, unknown> | unknown[];
    for (const key of keys) {
      const next = (parent as Record<string, unknown>)[key];
      if (next === null || typeof next !== 'object') throw new Error(`JSON patch: ${pointer} does not exist`);
      parent = next as Record<string, unknown>;
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) {
        throw new Error(`JSON patch: bad index in ${pointer}`);
      }
      if (op !== 'add' && index >= parent.length) throw new Error(`JSON patch: ${pointer} does not exist`);
      if (op === 'add') parent.splice(index, 0, value);
      else if (op === 'replace') parent[index] = value;
      else parent.splice(index, 1);
    } else {
      if (op !== 'add' && !(last in parent)) throw new Error(`JSON patch: ${pointer} does not exist`);
      if (op === 'remove') delete parent[last];
      else parent[last] = value;
    }
  }
  return root as T;
}
