// The app's files as the server sends them (server/http/web-files.ts), without an engine: the
// precompressed copy the browser accepts, never a stale one, and hashed chunks cached for good.
//   node --import tsx --test test/server/http/web-files.test.ts
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import express from 'express';
import { acceptedEncodings, webFiles } from '../../../server/http/web-files.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'termlab-web-files-'));
const JS = 'export const x = 1;\n'.repeat(50);
let server: http.Server;
let base: string;

/** Writes a file and its .br and .gz, as scripts/build-web.mjs does. */
function writeWithCopies(rel: string, text: string): void {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  writeFileSync(`${file}.br`, zlib.brotliCompressSync(text));
  writeFileSync(`${file}.gz`, zlib.gzipSync(text));
}

function get(urlPath: string, acceptEncoding?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${urlPath}`, { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
  });
}

before(async () => {
  writeWithCopies('index.html', '<!doctype html><title>t</title>');
  writeWithCopies('app.js', JS);
  writeWithCopies('chunks/chunk-ABC123.js', JS);
  writeFileSync(path.join(dir, 'app.js.map'), '{}');
  const app = express();
  app.use(webFiles(dir, ['/w/:code']));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('Accept-Encoding: q=0 refuses a coding', () => {
  assert.deepEqual([...acceptedEncodings('gzip, deflate, br, zstd')], ['gzip', 'deflate', 'br', 'zstd']);
  assert.deepEqual([...acceptedEncodings('br;q=0, gzip;q=0.5')], ['gzip']);
  assert.deepEqual([...acceptedEncodings(undefined)], []);
});

test('brotli when accepted, else gzip, else the file itself; always Vary', async () => {
  const br = await get('/app.js', 'gzip, deflate, br');
  assert.equal(br.headers['content-encoding'], 'br');
  assert.match(String(br.headers['content-type']), /^text\/javascript/);
  assert.equal(zlib.brotliDecompressSync(br.body).toString(), JS);
  const gz = await get('/app.js', 'gzip');
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString(), JS);
  const plain = await get('/app.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body.toString(), JS);
  for (const r of [br, gz, plain]) assert.match(String(r.headers.vary), /Accept-Encoding/i);
});

test('the page and the app\'s own paths get index.html, compressed', async () => {
  for (const p of ['/', '/index.html', '/w/ABCDEF']) {
    const r = await get(p, 'br');
    assert.equal(r.status, 200, p);
    assert.equal(r.headers['content-encoding'], 'br', p);
    assert.match(String(r.headers['content-type']), /^text\/html/, p);
    assert.equal(r.headers['cache-control'], 'no-cache', p);
    assert.match(zlib.brotliDecompressSync(r.body).toString(), /<title>t<\/title>/, p);
  }
});

test('hashed chunks are immutable; app.js is revalidated', async () => {
  assert.equal((await get('/chunks/chunk-ABC123.js', 'br')).headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal((await get('/app.js', 'br')).headers['cache-control'], 'no-cache');
});

test('a copy older than its file (left from an earlier build) is not sent', async () => {
  const file = path.join(dir, 'app.js');
  const old = new Date(Date.now() - 60_000);
  utimesSync(`${file}.br`, old, old);
  utimesSync(`${file}.gz`, old, old);
  const r = await get('/app.js', 'br, gzip');
  assert.equal(r.headers['content-encoding'], undefined);
  assert.equal(r.body.toString(), JS);
});

test('files without copies, missing files and paths out of the folder', async () => {
  const map = await get('/app.js.map', 'br');
  assert.equal(map.status, 200);
  assert.equal(map.headers['content-encoding'], undefined);
  assert.equal((await get('/nothing.js', 'br')).status, 404);
  assert.equal((await get('/%2e%2e/%2e%2e/etc/passwd.js', 'br')).status, 404);
  assert.equal((await get('/%E0%A4%A.js', 'br')).status, 404, 'a malformed escape');
});
