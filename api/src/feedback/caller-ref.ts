import { createHmac } from 'node:crypto';
import type { Caller } from '../auth/roles.ts';

/**
 * Who ran a search, as the query log keeps it and a click must match: `key:<api key id>` for
 * keyed callers, `addr:<hmac of the address>` for anonymous ones whose address is known (signed
 * by the edge, or the TCP peer), `anonymous` otherwise (in-process calls). The address is kept
 * only as an HMAC under `secret` (EDGE_SIGNING_KEY; the same in every API process, so a click
 * may reach another process than its search).
 */
export function callerRefOf(caller: Caller, address: string | null, secret: string | null): string {
  if (caller.keyId) return `key:${caller.keyId}`;
  if (!address) return 'anonymous';
  const mac = createHmac('sha256', secret ?? 'pixelfind-caller-ref')
    .update(address)
    .digest('hex');
  return `addr:${mac.slice(0, 32)}`;
}
