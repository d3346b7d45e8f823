/** What the edge can tell about a caller without asking the API (the API stays the authority). */
export interface Caller {
  /** The request carries credentials, so its answer may be personal: never shared from the cache. */
  authenticated: boolean;
  /** A partner key (`pf_partner_...`): persisted operations only. */
  partner: boolean;
}

/** The API key in `authorization: Bearer <key>` or `x-api-key`, as the API reads it. */
export function apiKeyOf(request: Request): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  return bearer?.[1] ?? request.headers.get('x-api-key');
}

export function callerOf(request: Request): Caller {
  const key = apiKeyOf(request);
  return {
    authenticated: key !== null || request.headers.has('authorization'),
    // keys are pf_<role>_<random>; a wrong guess here is caught again by the API
    partner: key?.startsWith('pf_partner_') ?? false,
  };
}
