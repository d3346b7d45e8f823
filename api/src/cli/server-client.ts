import { CliFailure } from './cli-config.ts';

/** The server did not answer at all (nothing listens, DNS, timeout): the CLI may fall back. */
export class ServerUnreachable extends Error {}

/** A GraphQL error the server sent back, with its code. */
export class ServerError extends CliFailure {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(code ? `${message} (${code})` : message);
  }
}

export interface ServerClient {
  readonly url: string;
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

/** GraphQL over HTTP to a running server; the key goes in `authorization: Bearer`. */
export function createServerClient(
  url: string,
  apiKey: string | null,
  options: { timeoutMs?: number } = {},
): ServerClient {
  const endpoint = `${url}/graphql`;
  return {
    url,
    async request<T>(query: string, variables: Record<string, unknown> = {}) {
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        throw new ServerUnreachable(`No Pixelfind server answers at ${url} (${cause})`);
      }
      let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
      try {
        body = (await response.json()) as typeof body;
      } catch {
        throw new CliFailure(
          `${endpoint} answered ${response.status} without GraphQL: is PIXELFIND_URL a Pixelfind server?`,
        );
      }
      const first = body.errors?.[0];
      if (first) throw new ServerError(first.message, first.extensions?.code ?? null);
      if (!body.data) throw new CliFailure(`${endpoint} answered ${response.status} without data`);
      return body.data;
    },
  };
}
