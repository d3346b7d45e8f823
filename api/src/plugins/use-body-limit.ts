import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const coded = (code: string, status: number, message: string) =>
  new GraphQLError(message, { extensions: { code, http: { status } } });

const isMultipart = (type: string) => type.startsWith('multipart/form-data');

/**
 * Non-multipart GraphQL requests (JSON, GET) are small: their bodies are capped at `maxBytes`
 * (by their declared length, or while a chunked one streams in), so only an upload may use the upload cap. Form-encoded POSTs, which a
 * cross-site page can send without a preflight, are refused.
 */
export function useBodyLimit(options: { maxBytes: number }): Plugin {
  const { maxBytes } = options;
  const tooLarge = () =>
    coded(
      'PAYLOAD_TOO_LARGE',
      413,
      `Expected a request body of at most ${maxBytes} bytes (uploads: multipart)`,
    );
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const type = (request.headers.get('content-type') ?? '').toLowerCase();
      if (request.method === 'POST' && type.startsWith('application/x-www-form-urlencoded')) {
        throw coded('UNSUPPORTED_MEDIA_TYPE', 415, 'Form-encoded requests are not accepted: send JSON');
      }
      if (isMultipart(type)) return;
      const length = request.headers.get('content-length');
      if (length !== null && Number(length) > maxBytes) throw tooLarge();
      // a declared length within the cap is the body's length: Node's HTTP parser frames the body
      // by it (bytes past it are the next request; a request with both it and chunked encoding is
      // refused), so only a chunked body is counted as it streams in, through a web stream that
      // costs every request a TransformStream and a second Request
      if (length !== null && /^\d+$/.test(length)) return;
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => {
        let read = 0;
        const body = req.body!.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              read += chunk.byteLength;
              if (read > maxBytes) controller.error(tooLarge());
              else controller.enqueue(chunk);
            },
          }),
        );
        return parse(
          new fetchAPI.Request(req.url, {
            method: req.method,
            headers: req.headers,
            signal: req.signal,
            body,
            // @ts-expect-error Node's fetch needs duplex for a streamed body
            duplex: 'half',
          }),
        );
      });
    },
  };
}
