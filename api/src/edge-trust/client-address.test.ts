import { describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../../test/support/backends.ts';
import type { TestApp } from '../../../test/support/test-app.ts';
import { useTestApps } from '../../../test/support/use-test-apps.ts';
import { resolveClientAddress } from './client-address.ts';
import { signEdgeRequest } from './edge-trust.ts';
import { EDGE_HEADERS } from './protocol.ts';

const headers = (entries: Record<string, string>) => new Headers(entries);

describe('resolveClientAddress: the one rule for the caller address', () => {
  const forged = { [EDGE_HEADERS.edgeClient]: '198.51.100.66', 'x-forwarded-for': '198.51.100.77' };

  it('takes the address the edge signed for only when the edge signature verified', () => {
    const sources = { headers: headers(forged), socketAddress: '10.0.0.5', trustForwardedFor: false };
    expect(resolveClientAddress({ ...sources, fromEdge: true })).toBe('198.51.100.66');
    expect(resolveClientAddress({ ...sources, fromEdge: false })).toBe('10.0.0.5');
  });

  it('gives no address for an edge request that vouched for none (never the edge peer)', () => {
    expect(
      resolveClientAddress({
        fromEdge: true,
        headers: headers({}),
        socketAddress: '10.0.0.5',
        trustForwardedFor: false,
      }),
    ).toBeNull();
  });

  it('believes X-Forwarded-For only behind a trusted proxy, and then only its last hop', () => {
    const h = headers({ 'x-forwarded-for': '203.0.113.9, 192.0.2.44' });
    expect(
      resolveClientAddress({
        fromEdge: false,
        headers: h,
        socketAddress: '10.0.0.5',
        trustForwardedFor: false,
      }),
    ).toBe('10.0.0.5');
    // the client wrote the first hop; the proxy appended what it saw
    expect(
      resolveClientAddress({
        fromEdge: false,
        headers: h,
        socketAddress: '10.0.0.5',
        trustForwardedFor: true,
      }),
    ).toBe('192.0.2.44');
    expect(
      resolveClientAddress({
        fromEdge: false,
        headers: headers({}),
        socketAddress: '10.0.0.5',
        trustForwardedFor: true,
      }),
    ).toBe('10.0.0.5');
  });

  it('is null for an in-process call with nothing signed', () => {
    expect(
      resolveClientAddress({
        fromEdge: false,
        headers: headers(forged),
        socketAddress: null,
        trustForwardedFor: false,
      }),
    ).toBeNull();
  });
});

describe('rate limits spend from the address edge trust decided', () => {
  const KEY = 'client-address-test-signing-key';
  const BODY = JSON.stringify({ query: '{ __typename }' });
  let t: TestApp;

  useTestApps(createEmbeddedBackend, async (open) => {
    t = await open({
      EDGE_SIGNING_KEY: KEY,
      RATE_LIMIT_PER_ADDRESS: '2',
      RATE_LIMIT_EXEMPT_LOOPBACK: 'false',
    });
  });

  const post = (extra: Record<string, string>) =>
    t.app.fetch('http://pixelfind.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...extra },
      body: BODY,
    });
  const signedAs = (client: string) =>
    post(signEdgeRequest({ key: KEY, method: 'POST', path: '/graphql', body: BODY, client }));

  it('counts an edge-signed client, and not a client that only names one', async () => {
    expect((await signedAs('203.0.113.1')).status).toBe(200);
    expect((await signedAs('203.0.113.1')).status).toBe(200);
    expect((await signedAs('203.0.113.1')).status).toBe(429);
    // forged: the edge-client header with a signature that does not verify is no address at all
    // (in-process: no socket), so it neither spends nor is refused by 203.0.113.2's budget
    const bogus = {
      ...signEdgeRequest({
        key: 'not-the-key',
        method: 'POST',
        path: '/graphql',
        body: BODY,
        client: '203.0.113.2',
      }),
    };
    for (let i = 0; i < 3; i++) expect((await post(bogus)).status).toBe(200);
    expect((await signedAs('203.0.113.2')).status).toBe(200);
    expect((await signedAs('203.0.113.2')).status).toBe(200);
    expect((await signedAs('203.0.113.2')).status).toBe(429);
  });
});
