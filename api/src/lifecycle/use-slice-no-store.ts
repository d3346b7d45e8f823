import type { Plugin } from 'graphql-yoga';

const sliced = new WeakSet<Request>();

/**
 * Marks a request answered by a traffic slice (a READY version, not the ACTIVE one): its answer
 * is for this caller only. The edge caches shared answers under the ACTIVE version it learned,
 * so a slice's answer must never land in that cache.
 */
export function markSliced(request: Request): void {
  sliced.add(request);
}

/** Yoga plugin: a sliced answer goes out `cache-control: private, no-store`. */
export function useSliceNoStore(): Plugin {
  return {
    onResponse({ request, response }) {
      if (sliced.has(request)) response.headers.set('cache-control', 'private, no-store');
    },
  };
}
