import { CliFailure } from './errors.ts';

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
  /** A GraphQL multipart request (graphql-multipart-request-spec) with one file at `filePath` (e.g. "variables.input.image"). */
  requestWithFile<T>(
    query: string,
    variables: Record<string, unknown>,
    file: { path: string; bytes: Buffer; name: string },
  ): Promise<T>;
}

/** GraphQL over HTTP to a running server; the key goes in `authorization: Bearer`. */
export function createServerClient(
  url: string,
  apiKey: string | null,
  options: { timeoutMs?: number } = {},
): ServerClient {
  const endpoint = `${url}/graphql`;

  async function send<T>(headers: Record<string, string>, body: string | FormData): Promise<T> {
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          ...headers,
          accept: 'application/graphql-response+json, application/json',
          // yoga's CSRF prevention lets a request with this header through (multipart included)
          'x-graphql-yoga-csrf': 'pixelfind-cli',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new ServerUnreachable(`No Pixelfind server answers at ${url} (${cause})`);
    }
    let parsed: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      parsed = (await response.json()) as typeof parsed;
    } catch {
      throw new CliFailure(
        `${endpoint} answered ${response.status} without GraphQL: is PIXELFIND_URL a Pixelfind server?`,
      );
    }
    const first = parsed.errors?.[0];
    if (first) throw new ServerError(first.message, first.extensions?.code ?? null);
    if (!parsed.data) throw new CliFailure(`${endpoint} answered ${response.status} without data`);
    return parsed.data;
  }

  return {
    url,
    request<T>(query: string, variables: Record<string, unknown> = {}) {
      return send<T>({ 'content-type': 'application/json' }, JSON.stringify({ query, variables }));
    },
    requestWithFile<T>(
      query: string,
      variables: Record<string, unknown>,
      file: { path: string; bytes: Buffer; name: string },
    ) {
      const form = new FormData();
      form.set('operations', JSON.stringify({ query, variables }));
      form.set('map', JSON.stringify({ 0: [file.path] }));
      form.set('0', new Blob([new Uint8Array(file.bytes)]), file.name);
      return send<T>({}, form);
    },
  };
}
