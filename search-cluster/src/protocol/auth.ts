import { createHash, timingSafeEqual } from 'node:crypto';

/** The header carrying the shard servers' shared secret: `authorization: Bearer <SHARD_AUTH_TOKEN>`. */
export const AUTH_HEADER = 'authorization';

/** Shortest SHARD_AUTH_TOKEN accepted: 128 bits as hex. */
export const MIN_AUTH_TOKEN_LENGTH = 32;

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * True when `header` is `Bearer <token>`. Both sides are hashed first, so the comparison takes
 * the same time whatever the length or content of what the caller sent.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
