import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import type { RequestContext } from './context.ts';

/** Pothos set-up only: plugins, scalars and the context type. Domain types live in their folders. */
export const builder = new SchemaBuilder<{
  Context: RequestContext;
  Scalars: {
    ID: { Input: string; Output: string | number | bigint };
    Upload: { Input: File; Output: never };
    DateTime: { Input: Date; Output: Date };
  };
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.scalarType('Upload', {
  description: 'A file sent as a part of a GraphQL multipart request (graphql-multipart-request-spec).',
  serialize: () => {
    throw new GraphQLError('Upload is an input-only scalar');
  },
  parseValue: (value) => {
    if (value instanceof File || (typeof value === 'object' && value !== null && 'arrayBuffer' in value))
      return value as File;
    throw new GraphQLError('Expected Upload to be a file part of a multipart request', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  },
});

builder.scalarType('DateTime', {
  description: 'An ISO-8601 instant in UTC.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('Expected an ISO-8601 date-time');
    return date;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('Expected an ISO-8601 date-time string');
    return new Date(ast.value);
  },
});

builder.queryType({});
builder.mutationType({});
