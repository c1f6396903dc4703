// ScreenMirror on its own thread (mirror-thread.ts): what a snapshot holds and at which offset,
// and what happens to the mirrors when their thread dies.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import { MirrorThreads } from '../../../server/sessions/mirror-thread.js';
import { ScreenMirror } from '../../../server/sessions/screen-mirror.js';

const threads = new MirrorThreads(2);
after(() => threads.stop());

/** The text a snapshot draws, read back through a terminal of the same size. */
async function screenText(data: string, cols: number, rows: number): Promise<string[]> {
  const term = new headless.Terminal({ cols, rows, scrollback: 100, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(data, resolve));
  const lines: string[] = [];
  for (let i = 0; i < term.buffer.active.length; i++) lines.push(term.buffer.active.getLine(i)!.translateToString(true));
  term.dispose();
  return lines;
}

test('a snapshot draws what was written, at the offset of the last byte parsed', async () => {
  const m = new ScreenMirror(40, 5, 100, () => {}, threads);
  const bytes = Buffer.from('one\r\ntwo\r\n\x1b[1mthree\x1b[0m');
  m.write(bytes);
  await m.drained();
  assert.equal(m.pending, 0);
  const snap = await m.snapshot();
  assert.equal(snap.offset, bytes.length);
  assert.deepEqual((await screenText(snap.data, 40, 5)).slice(0, 3), ['one', 'two', 'three']);
  m.dispose();
});

test('a resize reaches the copy: a line as wide as the new size stays one row', async () => {
  const m = new ScreenMirror(20, 5, 100, () => {}, threads);
  m.resize(40, 5);
  m.write(Buffer.from('x'.repeat(35)));
  await m.drained();
  const snap = await m.snapshot();
  assert.deepEqual((await screenText(snap.data, 40, 5)).slice(0, 2), ['x'.repeat(35), '']);
  m.dispose();
});

test('a flood is parsed beside the event loop, and pending counts what the thread has not parsed', async () => {
  const m = new ScreenMirror(80, 24, 1000, () => {}, threads);
  const line = Buffer.from('y 0123456789abcdefghijklmnopqrstuvwxyz\r\n'.repeat(1000));
  for (let i = 0; i < 100; i++) m.write(line);
  // Handed over in one turn: none of it can have been parsed yet.
  assert.equal(m.pending, 100 * line.length);
  await m.drained();
  assert.equal(m.parsedOffset, 100 * line.length);
  const lines = await screenText((await m.snapshot()).data, 80, 24);
  assert.ok(lines.includes('y 0123456789abcdefghijklmnopqrstuvwxyz'));
  m.dispose();
});

test('a flood handed over at once (the thread may skip through it) snapshots exactly as parsing it whole', async () => {
  const scrollback = 200;
  const m = new ScreenMirror(80, 24, scrollback, () => {}, threads);
  const text = `\x1b[32mstart\x1b[0m\r\n${Array.from({ length: 20_000 }, (_, i) => `line ${i}\r\n`).join('')}\x1b[1mend\x1b[0m `;
  for (let at = 0; at < text.length; at += 4096) m.write(Buffer.from(text.slice(at, at + 4096)));
  await m.drained();
  const snap = await m.snapshot();
  assert.equal(snap.offset, Buffer.byteLength(text));
  // The same bytes parsed whole, serialized the same way.
  const full = new headless.Terminal({ cols: 80, rows: 24, scrollback, allowProposedApi: true });
  const serializer = new serialize.SerializeAddon();
  full.loadAddon(serializer as never);
  await new Promise<void>((resolve) => full.write(text, resolve));
  assert.equal(snap.data, serializer.serialize({ scrollback }));
  full.dispose();
  m.dispose();
});

/** The snapshot of `text` parsed whole by a terminal of that size (the mirror's serializer, the same way). */
async function parsedWhole(text: string, cols: number, rows: number, scrollback: number, resizeTo?: [number, number], after = ''): Promise<string> {
  const full = new headless.Terminal({ cols, rows, scrollback, allowProposedApi: true });
  const serializer = new serialize.SerializeAddon();
  full.loadAddon(serializer as never);
  await new Promise<void>((resolve) => full.write(text, resolve));
  if (resizeTo) full.resize(...resizeTo);
  await new Promise<void>((resolve) => full.write(after, resolve));
  const data = serializer.serialize({ scrollback });
  full.dispose();
  return data;
}

test('a long flood kept unparsed and cut several times over snapshots exactly as parsing it whole', async () => {
  const scrollback = 1000;
  const m = new ScreenMirror(80, 24, scrollback, () => {}, threads);
  // About 6 MiB of plain lines between coloured ones: the thread keeps up to 1 MiB, cuts each time.
  const lines = Array.from({ length: 150_000 }, (_, i) => `line ${i} ${'.'.repeat(i % 60)}\r\n`).join('');
  const text = `\x1b[32mstart\x1b[0m\r\n${lines}\x1b[1mmiddle\x1b[0m\r\n${lines}\x1b[1mend\x1b[0m `;
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += 64 * 1024) {
    m.write(bytes.subarray(at, at + 64 * 1024));
    // A turn of the event loop between pieces, as a shell's reads come: the thread gets them in many messages.
    if (at % (512 * 1024) === 0) await new Promise((resolve) => setTimeout(resolve, 6));
  }
  await m.drained();
  const snap = await m.snapshot();
  assert.equal(snap.offset, bytes.length);
  assert.equal(snap.data, await parsedWhole(text, 80, 24, scrollback));
  m.dispose();
});

test('output before a resize is parsed at the old size, output after it at the new, even while parsing lags', async () => {
  const m = new ScreenMirror(20, 5, 100, () => {}, threads);
  const before = 'a'.repeat(50) + '\r\n\x1b[5;30H*';
  const after = '\x1b[1;30H#';
  m.write(Buffer.from(before));
  m.resize(40, 5);
  m.write(Buffer.from(after));
  const snap = await m.snapshot();
  assert.equal(snap.offset, Buffer.byteLength(before + after));
  assert.equal(snap.data, await parsedWhole(before, 20, 5, 100, [40, 5], after));
  m.dispose();
});

test('when its thread dies a mirror starts over empty, and later output is mirrored again', async () => {
  let parsedCalls = 0;
  const m = new ScreenMirror(40, 5, 100, () => parsedCalls++, threads);
  m.write(Buffer.from('before\r\n'));
  await m.drained();
  // The thread of the mirror's channel, stopped as a crash would stop it.
  const worker = (threads as unknown as { workers: Array<{ peers: Map<number, unknown>; worker?: { terminate(): Promise<number> } }> })
    .workers.find((w) => [...w.peers.values()].includes(m))!;
  const before = parsedCalls;
  await worker.worker!.terminate();
  // Starting over tells flow control (nothing is pending any more).
  await new Promise<void>((resolve) => { const check = () => (parsedCalls > before ? resolve() : setImmediate(check)); check(); });
  assert.equal(m.pending, 0);
  const lost = await m.snapshot();
  assert.equal(lost.offset, 8);
  assert.ok(!(await screenText(lost.data, 40, 5)).includes('before'));
  m.write(Buffer.from('after'));
  await m.drained();
  const again = await m.snapshot();
  assert.equal(again.offset, 13);
  assert.equal((await screenText(again.data, 40, 5))[0], 'after');
  assert.ok(parsedCalls >= 2);
  m.dispose();
});

test('a disposed mirror answers at once: an empty screen, nothing pending', async () => {
  const m = new ScreenMirror(40, 5, 100, () => {}, threads);
  m.write(Buffer.from('gone'));
  const waiting = m.snapshot();
  m.dispose();
  await m.drained();
  assert.equal(m.pending, 0);
  // Either the thread answered before the close, or dispose settled it empty: it never hangs.
  assert.equal((await waiting).offset <= 4, true);
  assert.deepEqual(await m.snapshot(), { data: '', offset: 4 });
});
