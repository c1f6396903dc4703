// Recordings' bytes written through the real writer (CastWriter into RecordingStore.sink) on both
// databases, each connection standing for a server: what server A writes, server B reads whole,
// while it runs and once it is finished; the size cap holds for the stored bytes; deleting takes
// the bytes; and a recording whose writer vanished without closing is readable up to its last
// stored batch and recovered at the next start. On PostgreSQL the bytes are rows in the database
// (batched: not a row per event); on SQLite they are a file in the state folder, as always.
//   node --import tsx --test test/server/store/recording-bytes.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAsciicast } from '../../../protocol/asciicast.js';
import { loadConfig } from '../../../server/config.js';
import { CastWriter } from '../../../server/recordings/cast-writer.js';
import type { ChunkSinkOptions } from '../../../server/recordings/chunk-sink.js';
import { RecordingService } from '../../../server/recordings/recording-service.js';
import { RecordingStore } from '../../../server/recordings/recording-store.js';
import type { Database } from '../../../server/store/database.js';
import { backends } from './backends.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
function stateDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-rec-bytes-'));
  dirs.push(d);
  return d;
}

const base = { owner: 'o', lab: 'hello', session: 's', terminal: 'main', title: 't', input: false };

/** A writer as TerminalRecorder makes one, into the store's sink for recording `id`. */
function writer(store: RecordingStore, id: string, cap: number, sink?: ChunkSinkOptions): CastWriter {
  return new CastWriter(store.sink(id, sink), { width: 80, height: 24, title: 't', maxBytes: cap });
}

/** What `store` serves of recording `id` (up to `limit` bytes), as text. */
async function read(store: RecordingStore, id: string, limit?: number): Promise<string> {
  const cast = await store.read(id, limit);
  if (!cast) return '';
  const text = Buffer.concat(await cast.body.toArray()).toString('utf8');
  assert.equal(Buffer.byteLength(text), cast.size, 'the size it announces is what it sends');
  return text;
}

/** The output events of a cast, joined. */
function output(text: string): string {
  return parseAsciicast(text).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
}

async function waitUntil(ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return ok();
}

async function chunkRows(db: Database, id: string): Promise<number> {
  return (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM recording_chunks WHERE recording = ?', [id]))!.n;
}

for (const backend of backends) {
  describe(`recording bytes on ${backend.name}`, () => {
    test('a recording written through one server is read whole through another, while it runs and once finished', async () => {
      const { connect } = await backend.fresh();
      const dir = stateDir();
      const dbA = connect();
      const [a, b] = [await RecordingStore.open(dbA, dir), await RecordingStore.open(connect(), dir)];
      const { info, cap } = await a.create(base, () => 4 * 1024 * 1024);
      const w = writer(a, info.id, cap);
      // The header is stored at once: the recording is playable everywhere from its start.
      assert.ok(await waitUntil(async () => (await read(b, info.id)).length > 0, 500), 'the header is readable at once');
      assert.equal(parseAsciicast(await read(b, info.id)).events.length, 0);

      // A busy shell: a thousand output events in a burst, then one more a moment later.
      let typed = '';
      for (let i = 0; i < 1000; i++) {
        const line = `line ${i} ${'.'.repeat(i % 50)}\r\n`;
        typed += line;
        w.output(Buffer.from(line));
      }
      const t0 = Date.now();
      w.output(Buffer.from('prompt# '));
      typed += 'prompt# ';
      // Stored within about a second (the batch interval), whichever server reads it.
      assert.ok(await waitUntil(async () => output(await read(b, info.id)) === typed, 3000), 'server B reads what A wrote');
      const took = Date.now() - t0;
      assert.ok(took < 2000, `stored ${took} ms after it was written`);
      assert.equal((await b.get(info.id))?.recording, true, 'still running');
      assert.equal(w.flushed, w.size);
      if (backend.name === 'postgres') {
        const rows = await chunkRows(dbA, info.id);
        assert.ok(rows <= 6, `${rows} rows for 1001 events: written in batches`);
      }

      w.marker('2. Next step');
      w.output(Buffer.from('done\r\n'));
      await w.close('Finished');
      await a.finish(info.id, w.duration, w.flushed);
      const done = (await b.get(info.id))!;
      assert.equal(done.recording, false);
      assert.equal(done.bytes, w.size);
      const whole = await read(b, info.id, done.bytes);
      assert.equal(Buffer.byteLength(whole), w.size);
      assert.equal(output(whole), `${typed}done\r\n`);
      assert.deepEqual(parseAsciicast(whole).events.filter((e) => e[1] === 'm').map((e) => e[2]), ['2. Next step', 'Finished']);
      assert.equal(whole, await read(a, info.id), 'both servers serve the same bytes');
    });

    test('the size cap holds for the stored bytes: a flood through the writer stops under it, with its closing marker', async () => {
      const { connect } = await backend.fresh();
      const dir = stateDir();
      const dbA = connect();
      const [a, b] = [await RecordingStore.open(dbA, dir), await RecordingStore.open(connect(), dir)];
      const { info, cap } = await a.create(base, () => 100 * 1024);
      let full = 0;
      const w = new CastWriter(a.sink(info.id, { batchMs: 50 }), { width: 80, height: 24, title: 't', maxBytes: cap, onFull: () => { full++; } });
      const kib = Buffer.alloc(1024, 'a');
      for (let i = 0; i < 1024; i++) w.output(kib); // 1 MiB at a 100 KiB cap
      await w.close('recording stopped: reached its 100 KiB limit');
      assert.equal(full, 1);
      assert.ok(w.isFull);
      const stored = await read(b, info.id);
      const size = Buffer.byteLength(stored);
      assert.ok(size <= cap, `${size} bytes stored, cap ${cap}`);
      assert.ok(size > cap - 2 * 1024 - 512, `${size} bytes: it did reach the cap`);
      assert.equal(size, w.flushed);
      assert.deepEqual(parseAsciicast(stored).events.at(-1)?.slice(1), ['m', 'recording stopped: reached its 100 KiB limit']);

      if (backend.name === 'postgres') {
        // The database holds the cap itself: a writer that ignored it gets its batch refused.
        const rogue = await a.create(base, () => 100 * 1024);
        const sink = a.sink(rogue.info.id, { batchMs: 10 });
        const failed = new Promise<Error>((resolve) => sink.onError(resolve));
        let stored = 0;
        sink.write('{"version": 2, "width": 80, "height": 24}\n', () => { stored++; });
        for (let i = 0; i < 200; i++) sink.write(`[0.1, "o", "${'b'.repeat(1000)}"]\n`, () => { stored++; });
        assert.match((await failed).message, /size cap/);
        await sink.close();
        const rogueBytes = (await a.read(rogue.info.id))!.size;
        assert.ok(rogueBytes <= rogue.cap, `${rogueBytes} bytes stored past the writer, cap ${rogue.cap}`);
        assert.ok(stored > 0 && stored < 201);
      }
    });

    test('deleting a recording, even while it is written, removes its bytes', async () => {
      const { connect } = await backend.fresh();
      const dir = stateDir();
      const dbA = connect();
      const [a, b] = [await RecordingStore.open(dbA, dir), await RecordingStore.open(connect(), dir)];
      const finished = await a.create(base, () => 1024 * 1024);
      const w1 = writer(a, finished.info.id, finished.cap);
      w1.output(Buffer.from('hello\r\n'));
      await w1.close();
      await a.finish(finished.info.id, w1.duration, w1.flushed);
      assert.equal(output(await read(b, finished.info.id)), 'hello\r\n');
      await b.delete(finished.info.id);
      assert.equal(await read(a, finished.info.id), '');
      assert.equal(fs.existsSync(a.file(finished.info.id)), false);

      // Another server deletes a recording still being written: the writer's next batch is refused, nothing is left.
      const running = await a.create(base, () => 1024 * 1024);
      const w2 = writer(a, running.info.id, running.cap, { batchMs: 50 });
      w2.output(Buffer.from('before\r\n'));
      assert.ok(await waitUntil(() => w2.flushed === w2.size, 2000));
      await b.delete(running.info.id);
      w2.output(Buffer.from('after\r\n'));
      await w2.close();
      assert.equal(await read(a, running.info.id), '');
      assert.equal(fs.existsSync(a.file(running.info.id)), false);
      if (backend.name === 'postgres') {
        assert.match(String(w2.error?.message), /deleted/, 'the writer learns it is gone');
        assert.equal(await chunkRows(dbA, running.info.id), 0);
        assert.equal(await chunkRows(dbA, finished.info.id), 0);
      }
    });

    test('a recording whose writer vanished is readable up to its last stored batch, and recovered at the next start', async () => {
      const { connect } = await backend.fresh();
      const dir = stateDir();
      const dbA = connect();
      const a = await RecordingStore.open(dbA, dir);
      const b = await RecordingStore.open(connect(), dir);
      const { info, cap } = await a.create(base, () => 1024 * 1024);
      const w = writer(a, info.id, cap, { batchMs: 200 });
      w.output(Buffer.from('stored\r\n'));
      assert.ok(await waitUntil(() => w.flushed === w.size, 2000));
      const kept = w.flushed;
      // More output, then the server dies (no close): its last batch was not stored yet.
      w.output(Buffer.from('lost with the server\r\n'));
      if (backend.name === 'postgres') {
        await dbA.close();
        // Another replica reads it while it is still marked running: whole events, up to the last batch.
        const text = await read(b, info.id);
        assert.equal(Buffer.byteLength(text), kept);
        assert.equal(output(text), 'stored\r\n');
        assert.equal((await b.get(info.id))?.recording, true);
      } else {
        // A file gets what the stream wrote, and a process killed mid-write can leave half an event.
        assert.ok(await waitUntil(() => w.flushed === w.size, 2000));
        fs.appendFileSync(a.file(info.id), '[9.9, "o", "half');
      }
      // The next start after the longest a recording runs: it was a dead server's.
      await b.setCreated(info.id, Date.now() - 120_000);
      const next = await RecordingStore.open(connect(), dir, 60_000);
      const recovered = (await next.get(info.id))!;
      assert.equal(recovered.recording, false);
      const text = await read(next, info.id, recovered.bytes);
      assert.equal(Buffer.byteLength(text), recovered.bytes);
      assert.ok(text.endsWith('\n'), 'cut after its last whole event');
      assert.equal(output(text), backend.name === 'postgres' ? 'stored\r\n' : 'stored\r\nlost with the server\r\n');
    });

    if (backend.name === 'postgres') {
      test('a live replica\'s retention sweep finishes a dead replica\'s running recording, without waiting for a start', async () => {
        const { connect } = await backend.fresh();
        const dir = stateDir();
        const dbA = connect();
        const a = await RecordingStore.open(dbA, dir);
        const b = new RecordingService(await RecordingStore.open(connect(), dir), { ...loadConfig({}).recordings, maxDurationMs: 60_000 });
        await b.firstSweep;
        const { info, cap } = await a.create(base, () => 1024 * 1024);
        const w = writer(a, info.id, cap, { batchMs: 50 });
        w.output(Buffer.from('stored\r\n'));
        assert.ok(await waitUntil(() => w.flushed === w.size, 2000));
        await dbA.close(); // replica A dies
        await b.sweep();
        assert.equal((await b.store.get(info.id))?.recording, true, 'younger than a recording runs: maybe a live replica\'s');
        await b.store.setCreated(info.id, Date.now() - 3 * 60_000);
        await b.sweep();
        const recovered = (await b.store.get(info.id))!;
        assert.equal(recovered.recording, false);
        assert.equal(recovered.bytes, w.flushed);
        assert.equal(output(await read(b.store, info.id, recovered.bytes)), 'stored\r\n');
        b.close();
      });
    }
  });
}
