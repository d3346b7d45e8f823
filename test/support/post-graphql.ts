/** A GraphQL error as clients see it. */
export interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphQLResponse<T> {
  status: number;
  body: { data?: T; errors?: GraphQLErrorBody[] };
}

/**
 * POSTs an operation as JSON (GraphQL over HTTP) through any fetch: `yoga.fetch` in-process
 * or the global fetch against a running server.
 */
export async function postGraphQL<T = Record<string, unknown>>(
  fetcher: (url: string, init: RequestInit) => Response | Promise<Response>,
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetcher(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse<T>['body'] };
}
