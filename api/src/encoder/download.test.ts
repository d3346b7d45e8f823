import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadModel } from './download.ts';
import { readManifest } from './manifest.ts';
import { getModelEntry, type ModelEntry } from './registry.ts';

// A stand-in for the hub: the tree API and /resolve/ for two files, one LFS (sha256), one not (git sha1).
const onnx = Buffer.alloc(3 * 1024 * 1024, 7);
const tokenizer = Buffer.from('{"model":{}}');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

const entry: ModelEntry = {
  ...getModelEntry('clip-vit-b32-fp32'),
  modelVersion: 'test-download',
  download: {
    repo: 'acme/clip',
    revision: 'main',
    files: [{ path: 'onnx/text_model.onnx' }, { path: 'tokenizer.json' }],
  },
};

describe('downloadModel', () => {
  let server: Server;
  let endpoint: string;
  let dir: string;
  let served = 0;
  let corrupt = false;
  const sink = () =>
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    });

  beforeAll(async () => {
    server = createServer((request, response) => {
      const url = request.url ?? '';
      if (url === '/api/models/acme/clip/tree/main/onnx') {
        response.end(
          JSON.stringify([
            {
              path: 'onnx/text_model.onnx',
              size: onnx.length,
              oid: 'x',
              lfs: { oid: sha256(onnx), size: onnx.length },
            },
          ]),
        );
      } else if (url === '/api/models/acme/clip/tree/main') {
        response.end(
          JSON.stringify([{ path: 'tokenizer.json', size: tokenizer.length, oid: gitSha1(tokenizer) }]),
        );
      } else if (url === '/acme/clip/resolve/main/onnx/text_model.onnx') {
        served++;
        response.end(corrupt ? Buffer.alloc(onnx.length, 8) : onnx);
      } else if (url === '/acme/clip/resolve/main/tokenizer.json') {
        served++;
        response.end(tokenizer);
      } else {
        response.statusCode = 404;
        response.end();
      }
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'pixelfind-download-'));
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads, verifies and records checksums', async () => {
    const results = await downloadModel({ entry, dir, endpoint, output: sink() });
    expect(results.map((r) => [r.path, r.status])).toEqual([
      ['onnx/text_model.onnx', 'downloaded'],
      ['tokenizer.json', 'downloaded'],
    ]);
    // the manifest beside the files: the directory loads on its own
    expect(await readManifest(dir)).toMatchObject({ modelVersion: 'test-download', family: 'clip' });
    expect(await readFile(path.join(dir, 'checksums.sha256'), 'utf8')).toBe(
      `${sha256(onnx)}  onnx/text_model.onnx\n${sha256(tokenizer)}  tokenizer.json\n`,
    );
  });

  it('keeps files whose checksum matches', async () => {
    served = 0;
    const results = await downloadModel({ entry, dir, endpoint, output: sink() });
    expect(results.every((r) => r.status === 'present')).toBe(true);
    expect(served).toBe(0);
  });

  it('refuses a file whose checksum does not match and keeps nothing of it', async () => {
    corrupt = true;
    const fresh = await mkdtemp(path.join(os.tmpdir(), 'pixelfind-download-'));
    await expect(downloadModel({ entry, dir: fresh, endpoint, output: sink() })).rejects.toThrow(
      /Checksum mismatch for onnx\/text_model\.onnx/,
    );
    await expect(readFile(path.join(fresh, 'onnx/text_model.onnx'))).rejects.toThrow();
    await expect(readFile(path.join(fresh, 'onnx/text_model.onnx.part'))).rejects.toThrow();
    corrupt = false;
    await rm(fresh, { recursive: true, force: true });
  });
});
