// Recordings' metadata and bytes on both databases: rows and bytes agree after a restart, usage
// counts running recordings at their cap, and two servers starting recordings for one owner at
// once cannot pass the owner's quota; retention sweeps run at once by two servers do not fail.
// The bytes are files on SQLite and chunks in the database on PostgreSQL (recording-bytes.test.ts
// writes them through the real writer).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { RecordingStore, type RecordingUsage } from '../../../server/recordings/recording-store.js';
import type { Database } from '../../../server/store/database.js';
import { backends } from './backends.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
function stateDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-rec-store-'));
  dirs.push(d);
  return d;
}

/**
 * Stores `text` as recording `id`'s bytes, as a server that died while writing it left them: a
 * file as it was (half an event at its end, maybe); in the database only the whole lines (a
 * batch is stored whole or not at all).
 */
async function put(store: RecordingStore, id: string, text: string): Promise<void> {
  if (!store.shared) return fs.writeFileSync(store.file(id), text);
  const sink = store.sink(id);
  sink.write(text.slice(0, text.lastIndexOf('\n') + 1), () => {});
  await sink.close();
}

/** Recording `id`'s bytes as the store serves them (undefined: none). */
async function bytesOf(store: RecordingStore, id: string): Promise<string | undefined> {
  const cast = await store.read(id);
  if (!cast || cast.size === 0) return undefined;
  return Buffer.concat(await cast.body.toArray()).toString('utf8');
}

/** Chunk rows left in the database (PostgreSQL). */
async function chunkRows(db: Database): Promise<number> {
  return (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM recording_chunks'))!.n;
}

const base = { owner: 'o', lab: 'hello', session: 's', terminal: 'main', title: 't', input: false };
const header = `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n`;

/** A quota like the service's: at most `count` recordings and `bytes` in all, each capped at 1000 bytes. */
function quota(count: number, bytes: number) {
  return (usage: RecordingUsage): number => {
    if (usage.count >= count) throw new Error('too-many-recordings');
    const left = bytes - usage.bytes;
    if (left < 100) throw new Error('recording-space-full');
    return Math.min(1000, left);
  };
}

for (const backend of backends) {
  describe(`recording store on ${backend.name}`, () => {
    test('a recording is listed, found by id, owner and share, finished, and deleted with its bytes', async () => {
      const dir = stateDir();
      const db = (await backend.fresh()).connect();
      const store = await RecordingStore.open(db, dir);
      const a = await store.create({ ...base, input: true }, quota(10, 10_000));
      assert.equal(a.cap, 1000);
      assert.equal(a.file, path.join(dir, 'recordings', `${a.info.id}.cast`));
      assert.equal(a.info.recording, true);
      assert.equal(a.info.input, true);
      const b = await store.create({ ...base, lab: 'docker' });
      await put(store, a.info.id, header);
      assert.equal(await bytesOf(store, a.info.id), header);
      assert.deepEqual(await store.usage('o'), { count: 2, bytes: 1000 }, 'running ones count at their cap');
      await store.finish(a.info.id, 1.5, 123, 'reached its limit');
      assert.deepEqual(await store.usage('o'), { count: 2, bytes: 123 });
      const done = (await store.get(a.info.id))!;
      assert.deepEqual({ recording: done.recording, durationS: done.durationS, bytes: done.bytes, stopped: done.stopped }, { recording: false, durationS: 1.5, bytes: 123, stopped: 'reached its limit' });
      assert.equal((await store.ownedBy(a.info.id, 'o'))?.id, a.info.id);
      assert.equal(await store.ownedBy(a.info.id, 'someone else'), undefined);
      assert.equal((await store.byShare(a.info.share))?.id, a.info.id);
      assert.deepEqual((await store.list('o', 'hello')).map((r) => r.id), [a.info.id]);
      assert.equal((await store.list('o')).length, 2);
      await store.setCreated(a.info.id, 1000);
      assert.deepEqual(await store.createdBefore(2000), [a.info.id], 'only finished ones');
      await store.setCreated(b.info.id, 1000);
      assert.deepEqual(await store.createdBefore(2000), [a.info.id]);
      await store.delete(a.info.id);
      await store.delete(a.info.id);
      assert.equal(await store.get(a.info.id), undefined);
      assert.equal(await bytesOf(store, a.info.id), undefined);
      assert.equal(fs.existsSync(a.file), false);
      if (backend.name === 'postgres') {
        assert.equal(await chunkRows(db), 0, 'its chunks went with it');
        assert.equal(fs.existsSync(path.join(dir, 'recordings')), false, 'PostgreSQL keeps no files');
      }
    });

    test('at open, bytes and rows are made to agree', async () => {
      const dir = stateDir();
      const { connect } = await backend.fresh();
      const db = connect();
      const store = await RecordingStore.open(db, dir);
      const kept = await store.create(base);
      await put(store, kept.info.id, `${header}[0.1, "o", "hi"]\n`);
      await store.finish(kept.info.id, 0.1, `${header}[0.1, "o", "hi"]\n`.length);
      const noBytes = await store.create(base);
      await store.finish(noBytes.info.id, 0, 10);
      const crashed = await store.create(base); // its server died while writing it: half an event at the end
      await put(store, crashed.info.id, `${header}[0.2, "o", "whole"]\n[0.3, "o", "ha`);
      await store.setCreated(crashed.info.id, Date.now() - 120_000); // longer ago than a recording runs
      const orphan = path.join(store.dir, 'no-row.cast');
      if (backend.name === 'sqlite') fs.writeFileSync(orphan, header);
      else await assert.rejects(db.run("INSERT INTO recording_chunks (recording, seq, start, data) VALUES ('no-row', 0, 0, ?)", [Buffer.from(header)]), 'no chunk without its row');
      const again = await RecordingStore.open(connect(), dir, 60_000);
      assert.equal(await bytesOf(again, kept.info.id), `${header}[0.1, "o", "hi"]\n`);
      assert.equal(await again.get(noBytes.info.id), undefined);
      assert.equal(fs.existsSync(orphan), false);
      const recovered = (await again.get(crashed.info.id))!;
      assert.equal(recovered.recording, false);
      assert.equal(recovered.bytes, `${header}[0.2, "o", "whole"]\n`.length);
      assert.equal(await bytesOf(again, crashed.info.id), `${header}[0.2, "o", "whole"]\n`);
    });

    if (backend.name === 'postgres') {
      test('at open, a .cast file an earlier version left in the shared folder is moved into the database', async () => {
        const dir = stateDir();
        const { connect } = await backend.fresh();
        const store = await RecordingStore.open(connect(), dir);
        const old = await store.create(base);
        const big = `${header}${`[0.1, "o", "${'x'.repeat(1000)}"]\n`.repeat(200)}`; // several 64 KiB rows
        await store.finish(old.info.id, 0.1, big.length);
        const crashed = await store.create(base);
        await store.setCreated(crashed.info.id, Date.now() - 120_000);
        fs.mkdirSync(path.join(dir, 'recordings'));
        fs.writeFileSync(store.file(old.info.id), big);
        fs.writeFileSync(store.file(crashed.info.id), `${header}[0.2, "o", "whole"]\n[0.3, "o", "ha`);
        // Two replicas starting at once import each file once.
        const [a] = await Promise.all([RecordingStore.open(connect(), dir, 60_000), RecordingStore.open(connect(), dir, 60_000)]);
        assert.equal(await bytesOf(a, old.info.id), big);
        assert.equal(fs.existsSync(store.file(old.info.id)), false);
        assert.equal(await bytesOf(a, crashed.info.id), `${header}[0.2, "o", "whole"]\n`);
        assert.equal((await a.get(crashed.info.id))?.recording, false);
      });
    }

    test('a server starting beside another leaves its running recordings alone on PostgreSQL; on SQLite (one server per file) they are a dead run\'s', async () => {
      const dir = stateDir();
      const { connect } = await backend.fresh();
      const a = await RecordingStore.open(connect(), dir);
      const running = await a.create(base);
      const partial = `${header}[0.1, "o", "x"]\n[0.2, "o", "par`;
      await put(a, running.info.id, partial);
      const justMade = await a.create(base); // its bytes are not written yet
      await RecordingStore.open(connect(), dir, 60_000);
      if (backend.name === 'postgres') {
        assert.equal((await a.get(running.info.id))?.recording, true);
        assert.equal(await bytesOf(a, running.info.id), `${header}[0.1, "o", "x"]\n`, 'its bytes are left as they are');
        assert.ok(await a.get(justMade.info.id), 'a row whose bytes are not written yet stays');
        // Once older than the longest a recording runs, it is a dead server's: recovered as on SQLite.
        await a.setCreated(running.info.id, Date.now() - 120_000);
        await RecordingStore.open(connect(), dir, 60_000);
      }
      assert.equal((await a.get(running.info.id))?.recording, false);
      assert.equal((await a.get(running.info.id))?.bytes, `${header}[0.1, "o", "x"]\n`.length);
      assert.equal(await bytesOf(a, running.info.id), `${header}[0.1, "o", "x"]\n`);
      if (backend.name === 'sqlite') assert.equal(fs.readFileSync(running.file, 'utf8'), `${header}[0.1, "o", "x"]\n`, 'its file is cut');
    });

    test('two servers starting 20 recordings of one owner at once keep to the quota', async () => {
      const { connect } = await backend.fresh();
      const dir = stateDir();
      const [a, b] = [await RecordingStore.open(connect(), dir), await RecordingStore.open(connect(), dir)];
      const byCount = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).create({ ...base, owner: 'many' }, quota(5, 1_000_000))));
      assert.equal(byCount.filter((r) => r.status === 'fulfilled').length, 5);
      assert.ok(byCount.every((r) => r.status === 'fulfilled' || /too-many-recordings/.test(String(r.reason))));
      // By bytes: running recordings hold their cap, so 3500 bytes hold three of 1000 and one of 500.
      const byBytes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).create({ ...base, owner: 'big' }, quota(100, 3500))));
      const caps = byBytes.flatMap((r) => (r.status === 'fulfilled' ? [r.value.cap] : [])).sort((x, y) => y - x);
      assert.deepEqual(caps, [1000, 1000, 1000, 500]);
      assert.deepEqual(await a.usage('big'), { count: 4, bytes: 3500 });
    });

    test('retention sweeps by two servers at once delete each recording once, without errors', async () => {
      const { connect } = await backend.fresh();
      const dir = stateDir();
      const db = connect();
      const [a, b] = [await RecordingStore.open(db, dir), await RecordingStore.open(connect(), dir)];
      for (let i = 0; i < 10; i++) {
        const r = await a.create(base);
        await put(a, r.info.id, header);
        await a.finish(r.info.id, 0, header.length);
        await a.setCreated(r.info.id, 1000);
      }
      const sweep = async (store: RecordingStore) => { for (const id of await store.createdBefore(2000)) await store.delete(id); };
      await Promise.all([sweep(a), sweep(b), sweep(a)]);
      assert.deepEqual(await b.list('o'), []);
      if (backend.name === 'sqlite') assert.deepEqual(fs.readdirSync(path.join(dir, 'recordings')), []);
      else assert.equal(await chunkRows(db), 0);
    });
  });
}
