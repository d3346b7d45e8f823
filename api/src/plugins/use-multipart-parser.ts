import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const badInput = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Puts `file` at `path` (`variables.input.image`), which must name a null placeholder. */
function place(operations: Record<string, unknown>, path: string, file: File) {
  const keys = path.split('.');
  if (keys[0] !== 'variables' || keys.length < 2 || keys.some((key) => key === '' || FORBIDDEN_KEYS.has(key)))
    throw badInput(
      `Expected a multipart map path of the form variables.<name> but received ${JSON.stringify(path)}`,
    );
  let node: unknown = operations;
  for (const key of keys.slice(0, -1)) {
    node = (node as Record<string, unknown>)[key];
    if (typeof node !== 'object' || node === null)
      throw badInput(`The multipart map path ${JSON.stringify(path)} names no variable in operations`);
  }
  const last = keys[keys.length - 1]!;
  if ((node as Record<string, unknown>)[last] !== null)
    throw badInput(`Expected a null placeholder at ${JSON.stringify(path)} for the mapped file`);
  (node as Record<string, unknown>)[last] = file;
}

/**
 * The GraphQL multipart request spec, parsed strictly: `operations` a JSON object, `map` a JSON
 * object of file part names to arrays of `variables.` paths, each naming a file part and a null
 * placeholder. Anything else is the client's mistake (BAD_USER_INPUT, 400); yoga's own parser
 * lets an array or string map through to the resolvers.
 */
export function useMultipartParser(): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      const type = (request.headers.get('content-type') ?? '').toLowerCase();
      if (request.method !== 'POST' || !type.startsWith('multipart/form-data')) return;
      setRequestParser(async (req) => {
        let form: FormData;
        try {
          form = await req.formData();
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          // the size errors keep their wording: maskError turns them into PAYLOAD_TOO_LARGE
          if (/File size limit exceeded|Request body too large/.test(message))
            throw new GraphQLError(message, {
              extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', http: { status: 413 } },
            });
          throw badInput('Expected a well-formed multipart/form-data body');
        }
        const json = (name: string): unknown => {
          const text = form.get(name);
          if (typeof text !== 'string') throw badInput(`Expected a multipart field "${name}" holding JSON`);
          try {
            return JSON.parse(text);
          } catch {
            throw badInput(`Expected the multipart field "${name}" to be valid JSON`);
          }
        };
        const operations = json('operations');
        if (!isPlainObject(operations))
          throw badInput('Expected the multipart field "operations" to be a JSON object');
        if (form.get('map') === null) return operations;
        const map = json('map');
        if (!isPlainObject(map))
          throw badInput(
            'Expected the multipart field "map" to be a JSON object of part names to path arrays',
          );
        for (const [part, paths] of Object.entries(map)) {
          if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string'))
            throw badInput(`Expected the map entry "${part}" to be an array of variable paths`);
          const file = form.get(part);
          // duck-typed: the fetch ponyfill's File is not the global Blob class
          if (typeof file !== 'object' || file === null || !('arrayBuffer' in file))
            throw badInput(`Expected a file part named "${part}" for the map entry`);
          for (const path of paths) place(operations, path as string, file as File);
        }
        return operations;
      });
    },
  };
}
