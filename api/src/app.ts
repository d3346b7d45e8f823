import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createFetch } from '@whatwg-node/fetch';
import { createYoga } from 'graphql-yoga';
import { componentLogger } from '../../search-cluster/src/index.ts';
import { keyFromHeaders } from './auth/api-keys.service.ts';
import type { Caller } from './auth/roles.ts';
import type { RequestContext, Services } from './context.ts';
import { clientAddressOf, useEdgeTrust } from './edge-trust/use-edge-trust.ts';
import { useEdgeImpressions } from './feedback/use-edge-impressions.ts';
import { dependencyChecks } from './http/readiness.ts';
import { createImageLoaders } from './images/images.loaders.ts';
import { createImagesRepository } from './images/images.repository.ts';
import { canViewAny } from './images/visibility.ts';
import { useSliceNoStore } from './lifecycle/use-slice-no-store.ts';
import { createApqRegistry } from './persisted/apq-registry.ts';
import { usePersistedOperations } from './persisted/use-persisted-operations.ts';
import { createMaskError } from './plugins/mask-error.ts';
import { useAccessLog } from './plugins/use-access-log.ts';
import { useBlobRoutes } from './plugins/use-blob-routes.ts';
import { useBodyLimit } from './plugins/use-body-limit.ts';
import { corsPolicy, useCsrf } from './plugins/use-cors-csrf.ts';
import { useHealth } from './plugins/use-health.ts';
import { useMetrics } from './plugins/use-metrics.ts';
import { useMultipartParser } from './plugins/use-multipart-parser.ts';
import { useRateLimits } from './plugins/use-rate-limits.ts';
import { useRequestLimits } from './plugins/use-request-limits.ts';
import { useRestRoutes } from './plugins/use-rest-routes.ts';
import { useThumbnailRoutes } from './plugins/use-thumbnail-routes.ts';
import { useWebApp } from './plugins/use-web-app.ts';
import { schema } from './schema.ts';
import { createPublicImageLookup } from './thumbs/public-image.ts';
import { createThumbnails } from './thumbs/thumbnails.ts';
import { anonymousUploaderId } from './upload/anonymous-uploader.ts';
import { storageUrlOfKey } from './upload/upload.service.ts';

// expected (coded) errors are answers, not incidents; maskError logs the unexpected ones
const isExpected = (arg: unknown) =>
  typeof (arg as { extensions?: { code?: unknown } } | null)?.extensions?.code === 'string' ||
  // a limit refusal (graphql-armor throws a bare GraphQLError): one log line per attack request would be a flood
  (arg instanceof Error &&
    arg.name === 'GraphQLError' &&
    !(arg as { originalError?: unknown }).originalError);

export interface AppOptions {
  /** True once the process is stopping: `/readyz` answers 503 so load balancers move away. */
  isDraining?: () => boolean;
}

/**
 * An anonymous caller with a known address owns the uploads made from that address (their
 * uploader id is derived from it, see anonymous-uploader.ts), so it can follow their status
 * while they are not public. Without an address (in-process) it owns nothing.
 */
function withAnonymousOwner(caller: Caller, request: Request, secret: string | null): Caller {
  if (caller.role !== 'anonymous') return caller;
  const address = clientAddressOf(request);
  return address ? { ...caller, ownerId: anonymousUploaderId(address, secret) } : caller;
}

/** The GraphQL-over-HTTP server: one yoga instance; tests call `app.fetch` in-process. */
export function createApp(services: Services, options: AppOptions = {}) {
  const { config } = services;
  const log = componentLogger(services.logger, 'api');
  const accessLog = useAccessLog({ log });
  const yogaLogger = {
    debug: () => {},
    info: () => {},
    warn: (...args: unknown[]) => log.warn('yoga', { detail: args.map(String).join(' ') }),
    error: (...args: unknown[]) => {
      if (!args.some(isExpected)) log.error('yoga', { detail: args.map(String).join(' ') });
    },
  };
  const imagesRepo = createImagesRepository(services.db);
  // one key lookup per request, shared by the persisted-operations check and the context
  const callers = new WeakMap<Request, Promise<Caller>>();
  const callerOf = (request: Request) => {
    let caller = callers.get(request);
    if (!caller) {
      caller = services.apiKeys.resolve(keyFromHeaders(request.headers));
      callers.set(request, caller);
    }
    return caller;
  };
  return createYoga<Record<string, never>, RequestContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.surface.graphiql ? { title: 'Pixelfind GraphiQL' } : false,
    // GraphiQL's scripts inlined: the page works offline, with no CDN
    renderGraphiQL,
    cors: corsPolicy({
      publicUrl: config.publicUrl,
      origins: config.corsOrigins,
      allowLoopback: config.corsAllowLoopback,
    }),
    landingPage: false,
    maskedErrors: { maskError: createMaskError(log) },
    // the file plus the multipart envelope (operations, map)
    maxRequestBodySize: config.upload.maxBytes + 1024 * 1024,
    logging: yogaLogger,
    // multipart bodies are bounded while they stream in, not after
    fetchAPI: createFetch({
      formDataLimits: {
        fileSize: config.upload.maxBytes,
        files: 2,
        fieldSize: 1024 * 1024,
        fields: 10,
        parts: 12,
      },
    }),
    context: async ({ request }) => ({
      request,
      caller: withAnonymousOwner(await callerOf(request), request, config.edgeSigningKey),
      loaders: createImageLoaders(imagesRepo),
      log: accessLog.loggerOf(request),
      services,
    }),
    plugins: [
      useRestRoutes(), // first: a REST request runs as one in-process /graphql request through all the others
      // before the rest, so refusals by the plugins below are logged too
      accessLog.plugin,
      // next: it times every request the plugins below answer, and serves /metrics
      useMetrics({
        metrics: services.metrics,
        token: config.surface.metricsToken,
        open: config.mode === 'single',
      }),
      // decides the client address (clientAddressOf) that the rate limits below spend from
      useEdgeTrust({
        key: config.edgeSigningKey ?? undefined,
        activeModelVersion: () => services.serving.activeModelVersion(),
        // every search reads the epoch before it gates, so answers carry the epoch they were gated at
        safetyEpoch: () => services.safetyEpoch.latest(),
        trustForwardedFor: config.rateLimits.trustForwardedFor,
      }),
      useRateLimits({ limits: services.rateLimits }),
      useBodyLimit({ maxBytes: config.requestLimits.maxJsonBodyBytes }),
      useMultipartParser(),
      useCsrf(),
      useRequestLimits(config.requestLimits, config.surface),
      // partners may run persisted operations only; the edge enforces the same list
      usePersistedOperations({
        roleOf: async (request) => (await callerOf(request)).role,
        registry: createApqRegistry(services.cache),
      }),
      useSliceNoStore(),
      useEdgeImpressions({
        record: (source, queryId, callerRef) =>
          services.feedback.recordEdgeImpression(source, queryId, callerRef),
        secret: config.edgeSigningKey ?? null,
      }),
      useHealth({
        ...(options.isDraining ? { isDraining: options.isDraining } : {}),
        checks: dependencyChecks({
          db: services.db,
          cache: services.cache,
          blobs: services.blobs,
          cluster: services.cluster,
        }),
      }),
      useBlobRoutes({
        blobs: services.blobs,
        canServe: async (key, request) =>
          canViewAny(
            await imagesRepo.findLiveByStorageUrl(storageUrlOfKey(key)),
            withAnonymousOwner(await callerOf(request), request, config.edgeSigningKey),
          ),
      }),
      useThumbnailRoutes({
        thumbnails: createThumbnails({ blobs: services.blobs }),
        publicImage: createPublicImageLookup({ images: imagesRepo }),
        log,
      }),
      useWebApp({
        meta: () => ({
          'model-version': services.serving.activeModelVersion(),
          'anonymous-uploads': String(config.allowAnonymousUploads),
        }),
      }),
    ],
  });
}
export type App = ReturnType<typeof createApp>;
