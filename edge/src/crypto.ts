import { bytesToHex } from '../../api/src/edge-trust/protocol.ts';

const utf8 = new TextEncoder();

export async function sha256Hex(text: string): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text))));
}

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC-SHA256 key for `secret`, imported once per isolate. */
export function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, key);
  }
  return key;
}

export async function hmacHex(secret: string, message: Uint8Array): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), message)));
}

/** Constant-time check of a hex HMAC (crypto.subtle.verify compares in constant time). */
export async function hmacVerify(
  secret: string,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return crypto.subtle.verify('HMAC', await hmacKey(secret), signature, message);
}
