import { EdgeError } from './errors.ts';
import { numberVar } from './limits.ts';

/** Request headers a static file or thumbnail answer may depend on; keys and cookies stay here. */
const FORWARDED = ['accept', 'accept-language', 'if-none-match', 'if-modified-since', 'user-agent'];
const DROPPED_FROM_ANSWER = ['content-encoding', 'transfer-encoding', 'connection', 'set-cookie'];

/**
 * The web app (`/`, `/assets/*`) and thumbnails (`/thumbs/*`) as the API serves them: the
 * status, body and caching headers (hashed assets immutable, index and thumbnails
 * revalidated) and the page's Content-Security-Policy pass through unchanged.
 */
export async function handleWebAsset(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  const target = new URL(`${env.ORIGIN_URL.replace(/\/+$/, '')}${url.pathname}${url.search}`);
  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  let response: Response;
  try {
    response = await fetch(target, {
      method: request.method,
      headers,
      signal: AbortSignal.timeout(numberVar(env.ORIGIN_TIMEOUT_MS, 30_000)),
    });
  } catch (error) {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      throw new EdgeError('TIMEOUT', 'The API did not answer in time');
    }
    throw new EdgeError('SERVICE_UNAVAILABLE', 'The API is unreachable; try again shortly', {
      headers: { 'retry-after': '5' },
    });
  }
  const answer = new Headers(response.headers);
  for (const name of DROPPED_FROM_ANSWER) answer.delete(name);
  return new Response(response.body, { status: response.status, headers: answer });
}
