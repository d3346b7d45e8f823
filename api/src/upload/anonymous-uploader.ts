import { createHmac, randomBytes } from 'node:crypto';

/** Uploader ids of anonymous uploads start with this; no API key may be issued to such an owner. */
export const ANONYMOUS_UPLOADER_PREFIX = 'anonymous';

// without a configured secret the ids still hide the address, but change when the process restarts
const processSecret = randomBytes(32);

/**
 * The uploader id of an anonymous upload, derived from the caller's address (the one the edge
 * signed for, or the TCP peer), never chosen by the client: `anonymous:<24 hex>`, an HMAC of the
 * address so the id does not reveal it. `anonymous` when the address is unknown (in-process).
 * An anonymous caller can therefore never upload as a user, nor find another caller's upload
 * through the (uploader, sha256) de-duplication.
 */
export function anonymousUploaderId(address: string | null, secret: string | null): string {
  if (!address) return ANONYMOUS_UPLOADER_PREFIX;
  const mac = createHmac('sha256', secret || processSecret)
    .update(`pixelfind-anonymous-uploader\n${address}`)
    .digest('hex');
  return `${ANONYMOUS_UPLOADER_PREFIX}:${mac.slice(0, 24)}`;
}

/** True for ids reserved to anonymous uploads. */
export const isAnonymousUploaderId = (id: string) =>
  id === ANONYMOUS_UPLOADER_PREFIX || id.startsWith(`${ANONYMOUS_UPLOADER_PREFIX}:`);
