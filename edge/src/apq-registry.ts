/**
 * Automatic Persisted Queries at the edge: documents registered by callers that may send
 * documents (not partners), kept in this location's cache so their next request can send the
 * hash alone. A miss costs the client one retry with the document, nothing else; the API keeps
 * its own registry for clients that reach it directly.
 */
const TTL_SECONDS = 86_400;
/** Longer documents run but are not registered. */
const MAX_DOCUMENT_BYTES = 16 * 1024;

const keyOf = (origin: string, hash: string) => `${origin}/__pixelfind-edge-cache/apq/v1/${hash}`;

export async function registeredDocument(origin: string, hash: string): Promise<string | null> {
  const hit = await caches.default.match(keyOf(origin, hash));
  return hit ? hit.text() : null;
}

export function registerDocument(
  ctx: ExecutionContext,
  origin: string,
  hash: string,
  document: string,
): void {
  if (new TextEncoder().encode(document).byteLength > MAX_DOCUMENT_BYTES) return;
  const response = new Response(document, {
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': `max-age=${TTL_SECONDS}` },
  });
  ctx.waitUntil(caches.default.put(keyOf(origin, hash), response));
}
