// image-test.sh's end-to-end check against the containers: waits until the shard server and the
// API are ready, uploads a red image through the API, waits until the worker indexed it, and
// searches for "red" until it is the first hit (the worker pushes it to the shard server).
// Before that, every path the Kubernetes manifests probe or scrape answers 200 on its container.
//   node image-test-check.mjs API_URL SHARD_URL WORKER_URL SHARD_TOKEN METRICS_TOKEN
import sharp from 'sharp';

const [apiUrl, shardUrl, workerUrl, shardToken, metricsToken] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const result = await check();
      if (result) return result;
    } catch (error) {
      last = error.message;
    }
    await sleep(500);
  }
  throw new Error(`image:test: timed out waiting for ${what}${last ? ` (${last})` : ''}`);
}

async function gql(query, variables = {}) {
  const response = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

// liveness, then readiness, then metrics with the token each scrape uses (infra/k8s/base)
const targets = [
  { what: 'the shard server', url: shardUrl, token: shardToken },
  { what: 'the worker', url: workerUrl, token: metricsToken },
  { what: 'the API', url: apiUrl, token: metricsToken },
];
for (const { what, url, token } of targets) {
  await waitFor(`${what} /healthz`, async () => (await fetch(`${url}/healthz`)).ok);
  await waitFor(`${what} /readyz`, async () => (await fetch(`${url}/readyz`)).ok);
  const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!metrics.ok) throw new Error(`image:test: ${what}'s /metrics answered ${metrics.status}`);
}
const unauthorized = await fetch(`${shardUrl}/v1/stats`);
if (unauthorized.status !== 401)
  throw new Error(`image:test: the shard answered ${unauthorized.status} without a token`);
const authorized = await fetch(`${shardUrl}/v1/stats`, {
  headers: { authorization: `Bearer ${shardToken}` },
});
if (!authorized.ok) throw new Error(`image:test: the shard answered ${authorized.status} with its token`);

const png = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#ff0000' } })
  .png()
  .toBuffer();
const form = new FormData();
form.set(
  'operations',
  JSON.stringify({
    query: 'mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id status } } }',
    variables: { f: null },
  }),
);
form.set('map', JSON.stringify({ 0: ['variables.f'] }));
form.set('0', new Blob([png], { type: 'image/png' }), 'red.png');
const upload = await fetch(`${apiUrl}/graphql`, {
  method: 'POST',
  headers: { 'x-graphql-yoga-csrf': '1' },
  body: form,
});
const uploaded = await upload.json();
if (uploaded.errors) throw new Error(`image:test: upload failed: ${JSON.stringify(uploaded.errors)}`);
const id = uploaded.data.uploadImage.image.id;
console.log(`image:test: uploaded image ${id} (${uploaded.data.uploadImage.image.status})`);

await waitFor(`image ${id} to be INDEXED by the worker`, async () => {
  const { image } = await gql('query($id: ID!) { image(id: $id) { status } }', { id });
  if (image?.status === 'FAILED' || image?.status === 'REJECTED')
    throw new Error(`image ${id} is ${image.status}`);
  return image?.status === 'INDEXED';
});
const hits = await waitFor(`image ${id} to be found by text through the shard server`, async () => {
  const { search } = await gql(
    '{ search(input: { text: "red", limit: 5 }) { partial hits { image { id } } } }',
  );
  return !search.partial && search.hits[0]?.image.id === id ? search.hits : null;
});
console.log(`image:test: search "red" -> ${hits.map((h) => h.image.id).join(', ')}`);
