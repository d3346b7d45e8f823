// Pure: no Workers globals, so the tests can compute the same keys.

/** JSON with object keys sorted at every depth: equal variables give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The Cache API key of a result: every input that changes the answer (operation, canonical
 * variables, model version, and the location's safety epoch, which moves with every takedown).
 * Under the request's own origin, as the Cache API wants.
 */
export async function resultCacheKey(input: {
  origin: string;
  operationHash: string;
  variables: Record<string, unknown>;
  modelVersion: string;
  safetyEpoch: number;
}): Promise<string> {
  const variablesHash = await sha256Hex(canonicalJson(input.variables));
  const model = encodeURIComponent(input.modelVersion);
  return `${input.origin}/__pixelfind-edge-cache/results/v2/${input.safetyEpoch}/${model}/${input.operationHash}/${variablesHash}`;
}
