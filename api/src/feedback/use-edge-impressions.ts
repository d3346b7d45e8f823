import type { Plugin } from 'graphql-yoga';
import { ANONYMOUS } from '../auth/roles.ts';
import { EDGE_IMPRESSIONS_PATH } from '../edge-trust/protocol.ts';
import { clientAddressOf, isEdgeRequest } from '../edge-trust/use-edge-trust.ts';
import { callerRefOf } from './caller-ref.ts';

export interface EdgeImpressionsOptions {
  /** Logs `queryId` as a copy of `sourceQueryId` run by `callerRef`; false when the source is unknown. */
  record(sourceQueryId: string, queryId: string, callerRef: string): Promise<boolean>;
  /** EDGE_SIGNING_KEY: the secret of caller refs (see callerRefOf). */
  secret: string | null;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * `POST /edge/impressions` `{ sourceQueryId, queryId }`, signed by the edge (useEdgeTrust must
 * run first): the edge served a cached answer of `sourceQueryId` under the new `queryId`, to the
 * client address it signed for. Logged as its own query, so the impression counts and only that
 * client can click its results. Anything not signed by the edge is 401.
 */
export function useEdgeImpressions({ record, secret }: EdgeImpressionsOptions): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      if (new URL(request.url).pathname !== EDGE_IMPRESSIONS_PATH) return;
      if (request.method !== 'POST') {
        endResponse(json(405, { code: 'METHOD_NOT_ALLOWED', message: 'POST only' }));
        return;
      }
      if (!isEdgeRequest(request)) {
        endResponse(json(401, { code: 'UNAUTHENTICATED', message: 'Only the edge reports impressions' }));
        return;
      }
      let body: { sourceQueryId?: unknown; queryId?: unknown };
      try {
        body = (await request.json()) as typeof body;
      } catch {
        endResponse(json(400, { code: 'BAD_USER_INPUT', message: 'Expected a JSON body' }));
        return;
      }
      const { sourceQueryId, queryId } = body ?? {};
      if (typeof sourceQueryId !== 'string' || typeof queryId !== 'string') {
        endResponse(json(400, { code: 'BAD_USER_INPUT', message: 'Expected sourceQueryId and queryId' }));
        return;
      }
      // the edge caches anonymous answers only
      const callerRef = callerRefOf(ANONYMOUS, clientAddressOf(request), secret);
      try {
        const recorded = await record(sourceQueryId, queryId, callerRef);
        endResponse(
          recorded
            ? json(202, { recorded })
            : json(404, { code: 'NOT_FOUND', message: 'Unknown source query' }),
        );
      } catch (error) {
        const code = (error as { extensions?: { code?: string } }).extensions?.code;
        if (code === 'BAD_USER_INPUT') endResponse(json(400, { code, message: (error as Error).message }));
        else throw error;
      }
    },
  };
}
