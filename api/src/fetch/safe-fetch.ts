import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { AppError, badInput } from '../errors.ts';
import { classifyAddress } from './ip-ranges.ts';

/** Resolves a hostname to every address it has. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface FetchImageOptions {
  /** Largest body accepted, in bytes; larger bodies are cut off while streaming. Default 25 MiB. */
  maxBytes?: number;
  /** Time for the whole fetch (every redirect, DNS, headers and body), in ms. Default 5000. */
  timeoutMs?: number;
  /** Redirects followed before giving up. Default 3. */
  maxRedirects?: number;
  /**
   * Hostnames or IP literals (exact, case-insensitive) that may resolve to non-public addresses:
   * IMAGE_FETCH_ALLOW_HOSTS, for tests and private deployments. Default none.
   */
  allowHosts?: readonly string[];
  /** How hostnames are resolved. Default: `dns.lookup` with `all: true` (tests inject their own). */
  resolve?: Resolver;
  /** Cancels the fetch (e.g. the GraphQL request went away). */
  signal?: AbortSignal;
}

export const DEFAULT_FETCH_MAX_BYTES = 25 * 1024 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'Pixelfind-ImageFetcher/0.1 (+https://github.com/pixelfind)';

/** Parses IMAGE_FETCH_ALLOW_HOSTS: comma or whitespace separated hostnames / IP literals. */
export function parseAllowHosts(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(/[\s,]+/)
    .map(normaliseHost)
    .filter((host) => host !== '');
}

const defaultResolve: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/**
 * Fetches a user-supplied image URL without letting the user reach the server's own network
 * (SSRF): http(s) only, every resolved address must be public unless the host is allow-listed,
 * the connection goes to the address that was checked (no second DNS answer can swap it), each
 * redirect is checked the same way, and the body is capped in size and time.
 * The bytes are not sniffed here: pass them to `inspectImage`.
 */
export async function fetchImageUrl(url: string, options: FetchImageOptions = {}): Promise<Buffer> {
  const {
    maxBytes = DEFAULT_FETCH_MAX_BYTES,
    timeoutMs = 5000,
    maxRedirects = 3,
    allowHosts = [],
    resolve = defaultResolve,
    signal: callerSignal,
  } = options;
  const allowed = new Set(allowHosts.map(normaliseHost));
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
  const timedOut = () => new AppError('TIMEOUT', `Fetching the image URL took longer than ${timeoutMs} ms`);

  let current = parseUserUrl(url);
  try {
    for (let redirects = 0; ; redirects++) {
      const addresses = await abortable(checkedAddresses(current, allowed, resolve), signal);
      const response = await request(current, addresses, signal);
      const status = response.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        response.destroy();
        const location = response.headers.location;
        if (!location) throw badInput(`The image URL answered ${status} without a Location`, { status });
        if (redirects >= maxRedirects) {
          throw badInput(`The image URL redirected more than ${maxRedirects} times`);
        }
        current = parseUserUrl(location, current);
        continue;
      }
      if (status < 200 || status > 299) {
        response.destroy();
        throw badInput(`The image URL answered with HTTP status ${status}`, { status });
      }
      return await readBody(response, maxBytes);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (timeout.aborted) throw timedOut();
    if (signal.aborted) throw badInput('Fetching the image URL was cancelled');
    const reason = error instanceof Error ? error.message : String(error);
    throw badInput(`The image URL could not be fetched: ${reason}`);
  }
}

function normaliseHost(host: string): string {
  let value = host.trim().toLowerCase();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  return value.endsWith('.') ? value.slice(0, -1) : value;
}

function parseUserUrl(raw: string, base?: URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(raw, base);
  } catch {
    throw badInput(`Expected an http or https URL but received ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw badInput(`Expected an http or https URL but received a ${parsed.protocol} URL`);
  }
  if (parsed.username || parsed.password) throw badInput('Image URLs may not carry credentials');
  return parsed;
}

/** The addresses this URL may be fetched from, each one checked; throws when any is refused. */
async function checkedAddresses(url: URL, allowed: Set<string>, resolve: Resolver): Promise<LookupAddress[]> {
  const host = normaliseHost(url.hostname);
  const literal = isIP(host);
  let addresses: LookupAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal }];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      throw badInput(`The image URL's host ${host} could not be resolved`);
    }
    if (addresses.length === 0) throw badInput(`The image URL's host ${host} could not be resolved`);
  }
  if (allowed.has(host)) return addresses;
  for (const { address } of addresses) {
    const cls = classifyAddress(address);
    // One bad address refuses the host: a name that resolves to both a public and a private
    // address would otherwise reach the private one whenever the connection falls back to it.
    if (cls !== 'public') {
      throw badInput(
        `The image URL's host ${host} resolves to a ${cls} address (${address}), which is not allowed`,
        { reason: 'ADDRESS_NOT_ALLOWED' },
      );
    }
  }
  return addresses;
}

/** Sends the request to one of the checked addresses, never re-resolving the hostname. */
function request(url: URL, addresses: LookupAddress[], signal: AbortSignal): Promise<IncomingMessage> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    const family = typeof options === 'object' ? options.family : undefined;
    const usable = addresses.filter((a) => !family || family === a.family || family === `IPv${a.family}`);
    const candidates = usable.length > 0 ? usable : addresses;
    if (typeof options === 'object' && options.all) {
      (callback as unknown as (err: null, all: LookupAddress[]) => void)(null, candidates);
    } else {
      callback(null, candidates[0]!.address, candidates[0]!.family);
    }
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'GET',
      lookup: pinned,
      agent: false,
      signal,
      headers: { 'user-agent': USER_AGENT, accept: 'image/*', 'accept-encoding': 'identity' },
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

async function readBody(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new AppError('PAYLOAD_TOO_LARGE', `The image URL serves more than ${maxBytes} bytes`);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      response.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  // A body cut short by the server is not an image we can trust to be complete.
  if (!response.complete) throw badInput('The image URL closed the connection before the body ended');
  return Buffer.concat(chunks, total);
}

/** Races a promise that cannot be cancelled itself (DNS lookups) against the abort signal. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
