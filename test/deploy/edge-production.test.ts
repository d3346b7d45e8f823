/**
 * wrangler.toml's production environment is complete (docs/deploy-edge.md): wrangler itself reads
 * it without complaint, the Worker is served on a route of a zone (the Cache API does nothing on
 * workers.dev), every binding the Worker's code reads is there (vars, KV and secrets are not
 * inherited from the top level), the signing key is a declared secret and never a var, and
 * Workers Logs are on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unstable_readConfig } from 'wrangler';
import { PACKAGE_ROOT } from '../../search-cluster/src/index.ts';

const config = unstable_readConfig({ config: path.join(PACKAGE_ROOT, 'wrangler.toml'), env: 'production' });
const local = unstable_readConfig({ config: path.join(PACKAGE_ROOT, 'wrangler.toml'), env: 'local' });

/** Every `env.NAME` the Worker's sources read. */
function bindingsRead(): string[] {
  const dir = path.join(PACKAGE_ROOT, 'edge/src');
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    for (const match of readFileSync(path.join(dir, file), 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) {
      names.add(match[1]!);
    }
  }
  return [...names].sort();
}

describe('wrangler.toml [env.production]', () => {
  const secrets = (config as { secrets?: { required?: string[] } }).secrets?.required ?? [];

  it('is served on a route of a zone, not on workers.dev', () => {
    expect(config.name).toBe('pixelfind-edge');
    expect(config.workers_dev).toBe(false);
    expect(config.routes?.length).toBeGreaterThan(0);
    for (const route of config.routes ?? []) {
      expect(typeof route === 'object' && ('zone_name' in route || 'custom_domain' in route)).toBe(true);
    }
  });

  it('binds everything the Worker reads: vars, the EMBEDDINGS KV namespace, the signing key secret', () => {
    const bound = [
      ...Object.keys(config.vars ?? {}),
      ...config.kv_namespaces.map((kv: { binding: string }) => kv.binding),
      ...secrets,
    ].sort();
    expect(bindingsRead().length).toBeGreaterThan(5);
    for (const name of bindingsRead()) expect(bound, name).toContain(name);
    expect(config.kv_namespaces.map((kv: { binding: string }) => kv.binding)).toEqual(['EMBEDDINGS']);
    // the same variables as the local environment, so nothing read locally is missing in production
    expect(Object.keys(config.vars ?? {}).sort()).toEqual(Object.keys(local.vars ?? {}).sort());
  });

  it('keeps EDGE_SIGNING_KEY a secret (wrangler secret put), never a var in the file', () => {
    expect(secrets).toEqual(['EDGE_SIGNING_KEY']);
    expect(Object.keys(config.vars ?? {})).not.toContain('EDGE_SIGNING_KEY');
    expect(new URL(String(config.vars?.ORIGIN_URL)).protocol).toBe('https:');
  });

  it('turns Workers Logs on', () => {
    expect(config.observability?.enabled).toBe(true);
    expect(config.observability?.logs?.enabled).toBe(true);
  });
});
