import { bearerMatches } from '../../../search-cluster/src/index.ts';

/** Who may read `/metrics` of the API and the worker (METRICS_TOKEN). */
export interface ScrapeAccess {
  /** The bearer token a scrape must present; null: none. */
  token: string | null;
  /** Without a token: serve anyone (single mode) or no one (cluster mode, 404). */
  open: boolean;
}

/** True when a scrape with this `authorization` header may read the metrics. */
export function scrapeAllowed(authorization: string | null, access: ScrapeAccess): boolean {
  return access.token ? bearerMatches(authorization ?? undefined, access.token) : access.open;
}
