// The skip after Ctrl-C ends at the prompt marker, wherever the reads cut it, or at its bounds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InterruptFlush } from '../../../server/sessions/interrupt-flush.js';

const MARKER = Buffer.from('\x1b]6973;prompt;');

test('skipping drops output up to the prompt marker, even one split across two reads', () => {
  const f = new InterruptFlush(MARKER);
  assert.equal(f.filter(Buffer.from('before')).rest?.toString(), 'before', 'not skipping: everything passes');
  f.start();
  assert.deepEqual(f.filter(Buffer.from('y\n'.repeat(1000))), {});
  const prompt = Buffer.concat([Buffer.from('y\ny\n^C'), MARKER, Buffer.from('0\x07root@lab:~# ')]);
  const cut = 8; // inside the marker (2000 + 6 bytes skipped: 2 KiB)
  assert.deepEqual(f.filter(prompt.subarray(0, cut)), {});
  const end = f.filter(prompt.subarray(cut));
  assert.equal(end.rest?.toString(), Buffer.concat([MARKER, Buffer.from('0\x07root@lab:~# ')]).toString());
  assert.match(end.note?.toString() ?? '', /\[2 KiB of output skipped after Ctrl-C\]/);
  assert.equal(f.skipping, false);
  assert.equal(f.filter(Buffer.from('after')).rest?.toString(), 'after');
});

test('a command that ignores the interrupt streams on after the byte bound', () => {
  const f = new InterruptFlush(MARKER);
  f.start();
  const mib = Buffer.alloc(1024 * 1024, 'y');
  let ended;
  for (let i = 0; i < 20 && !ended; i++) ended = f.filter(mib).note;
  assert.match(ended?.toString() ?? '', /\[9\.0 MiB of output skipped/);
  assert.equal(f.skipping, false);
});

test('a shell without the marker: skipping stops when told (the output went quiet), and says how much it dropped', () => {
  const f = new InterruptFlush(MARKER);
  assert.equal(f.stop(), undefined, 'nothing to stop');
  f.start();
  assert.deepEqual(f.filter(Buffer.alloc(4096, 'y')), {});
  assert.match(f.stop()?.toString() ?? '', /\[4 KiB of output skipped after Ctrl-C\]/);
  assert.equal(f.skipping, false);
  assert.equal(f.filter(Buffer.from('/ # ')).rest?.toString(), '/ # ');
});
