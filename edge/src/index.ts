import { EdgeError, errorResponse } from './errors.ts';
import { handleGraphQL } from './graphql-handler.ts';
import { handleApolloManifest } from './persisted-operations.ts';
import { enforceRateLimits } from './rate-limit.ts';
import { handleClick, handleDelete, handleImage, handleSearch, handleUpload } from './rest.ts';
import { handleWebAsset } from './web-app.ts';

type Handler = (request: Request, env: Env, ctx: ExecutionContext, param: string) => Promise<Response>;

/** [method, path pattern, handler]; a pattern's one capture group is passed as `param`. */
const routes: [string, RegExp, Handler][] = [
  ['GET', /^\/graphql$/, handleGraphQL],
  ['POST', /^\/graphql$/, handleGraphQL],
  ['GET', /^\/search$/, handleSearch],
  ['GET', /^\/images\/([^/]+)$/, handleImage],
  ['DELETE', /^\/images\/([^/]+)$/, handleDelete],
  ['POST', /^\/images$/, handleUpload],
  ['POST', /^\/search\/([^/]+)\/click$/, handleClick],
  ['GET', /^\/persisted-query-manifest\.json$/, handleApolloManifest],
  // the web app and its thumbnails, passed through to the API
  ['GET', /^\/(?:index\.html)?$/, handleWebAsset],
  ['HEAD', /^\/(?:index\.html)?$/, handleWebAsset],
  ['GET', /^\/assets\/[^/]+$/, handleWebAsset],
  ['HEAD', /^\/assets\/[^/]+$/, handleWebAsset],
  ['GET', /^\/thumbs\/[^/]+\.webp$/, handleWebAsset],
  ['HEAD', /^\/thumbs\/[^/]+\.webp$/, handleWebAsset],
];

async function fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  try {
    const { pathname } = new URL(request.url);
    const matching = routes.filter(([, pattern]) => pattern.test(pathname));
    const route = matching.find(([method]) => method === request.method);
    if (route) {
      await enforceRateLimits(request, env);
      const param = decodeURIComponent(route[1].exec(pathname)?.[1] ?? '');
      return await route[2](request, env, ctx, param);
    }
    if (matching.length > 0) {
      const allow = matching.map(([method]) => method).join(', ');
      throw new EdgeError('METHOD_NOT_ALLOWED', `${request.method} is not served on ${pathname}`, {
        headers: { allow },
      });
    }
    throw new EdgeError('NOT_FOUND', `No route for ${request.method} ${pathname}`);
  } catch (error) {
    return errorResponse(error);
  }
}

export default { fetch } satisfies ExportedHandler<Env>;
