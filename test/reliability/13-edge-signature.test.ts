// Issue 10 item 13: the edge's request signature covered method and path only, so one captured
// header replayed with any body for 300 s; and an anonymous upload could name any uploader id,
// another user's included. Now the signature covers the body bytes and the client address, and
// an anonymous upload's uploader id is derived from that address.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { signEdgeRequest } from '../../api/src/edge-trust/edge-trust.ts';
import { EDGE_HEADERS } from '../../api/src/edge-trust/protocol.ts';
import { anonymousUploaderId } from '../../api/src/upload/anonymous-uploader.ts';
import { backends } from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { uploadForm } from '../support/upload-form.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const KEY = 'reliability-13-edge-signing-key';
const jpeg = (r: number, g: number, b: number) =>
  sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } })
    .jpeg()
    .toBuffer();

/** Edge headers for a POST /graphql of `body`, as the Worker signs them. */
const signedPost = (body: Uint8Array, client?: string) =>
  signEdgeRequest({ key: KEY, method: 'POST', path: '/graphql', body, client });

/** The exact bytes and content-type of a GraphQL multipart upload, as the Worker sends them. */
async function multipartUpload(file: Buffer) {
  const form = uploadForm(file, {}, { type: 'image/jpeg', filename: 'image.jpg' });
  const encoded = new Request('http://encode.test', { method: 'POST', body: form });
  return {
    body: new Uint8Array(await encoded.arrayBuffer()),
    type: encoded.headers.get('content-type') ?? '',
  };
}

describe.each(backends)(
  'edge signature over the body; anonymous uploader ids (issue 10 item 13, $name)',
  ({ create }) => {
    let t: TestApp;

    useTestApps(
      create,
      async (open) => {
        t = await open({ EDGE_SIGNING_KEY: KEY, ALLOW_ANONYMOUS_UPLOADS: 'true' });
      },
      120_000,
    );

    const send = (body: Uint8Array<ArrayBuffer>, type: string, headers: Record<string, string>) =>
      t.app.fetch('http://pixelfind.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': type,
          accept: 'application/graphql-response+json',
          'x-graphql-yoga-csrf': '1',
          ...headers,
        },
        body,
      });

    const uploaderOf = async (response: Response) => {
      const body = (await response.json()) as {
        data?: { uploadImage: { image: { id: string } } };
        errors?: unknown;
      };
      expect(body.errors).toBeUndefined();
      const id = body.data!.uploadImage.image.id;
      // read from the record: a PENDING image is not public (docs/security.md, item 3)
      const { rows } = await t.services.db.query<{ uploader_id: string }>(
        'SELECT uploader_id FROM images WHERE id = $1',
        [id],
      );
      return rows[0]!.uploader_id;
    };

    it('a signature captured for one search does not vouch for another body: no signed embedding comes back', async () => {
      const search = (text: string) =>
        new TextEncoder().encode(
          JSON.stringify({
            query: 'query($t: String!) { search(input: { text: $t }) { queryId } }',
            variables: { t: text },
          }),
        );
      const captured = signedPost(search('red'));
      const genuine = await send(search('red'), 'application/json', captured);
      expect(genuine.status).toBe(200);
      expect(genuine.headers.get(EDGE_HEADERS.embedding)).toBeTruthy();

      const replayed = await send(search('blue'), 'application/json', captured);
      expect(replayed.status).toBe(200);
      // the API treats it as a client's request: it hands out no signed vector for "blue"
      expect(replayed.headers.get(EDGE_HEADERS.embedding)).toBeNull();
    });

    it('an anonymous upload through the edge gets the uploader id of its client address', async () => {
      const client = '203.0.113.7';
      const { body, type } = await multipartUpload(await jpeg(200, 30, 30));
      const signed = signedPost(body, client);
      const uploader = await uploaderOf(await send(body, type, signed));
      expect(uploader).toBe(anonymousUploaderId(client, KEY));
      expect(uploader).not.toContain(client);

      // the same client again: the same id (its own de-duplication still works)
      const again = await multipartUpload(await jpeg(30, 200, 30));
      const signedAgain = signedPost(again.body, client);
      expect(await uploaderOf(await send(again.body, again.type, signedAgain))).toBe(uploader);
    });

    it("a captured upload signature replayed with other bytes and another client's address claims nothing", async () => {
      const victim = '198.51.100.9';
      const original = await multipartUpload(await jpeg(10, 10, 200));
      const captured = signedPost(original.body, victim);
      const forged = await multipartUpload(await jpeg(240, 240, 10));
      const uploader = await uploaderOf(await send(forged.body, forged.type, captured));
      expect(uploader).not.toBe(anonymousUploaderId(victim, KEY));
      // not through the edge and no socket in-process: the shared anonymous id
      expect(uploader).toBe('anonymous');
    });

    it("a direct anonymous upload gets an anonymous uploader id, never a user's", async () => {
      await t.services.apiKeys.create('user', 'victor');
      const { status, body } = await t.upload(await jpeg(90, 90, 90), {});
      expect(status).toBe(200);
      const id = (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
      const { rows } = await t.services.db.query<{ uploader_id: string }>(
        'SELECT uploader_id FROM images WHERE id = $1',
        [id],
      );
      expect(rows[0]!.uploader_id).toMatch(/^anonymous/);
    });

    it('no API key can be issued to an anonymous uploader id', async () => {
      await expect(
        t.services.apiKeys.create('user', anonymousUploaderId('203.0.113.7', KEY)),
      ).rejects.toThrow(/anonymous/);
      await expect(t.services.apiKeys.create('user', 'anonymous')).rejects.toThrow(/anonymous/);
    });
  },
);
