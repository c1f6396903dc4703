// The asciicast writer in both versions: the same events on the same clock, written as v2 and as
// v3, read back to the same recording (v3's intervals add up to v2's times to the microsecond),
// with v3's header and exit event; real files in a temporary folder.
//   node --import tsx --test test/server/recordings/cast-writer.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseAsciicast } from '../../../protocol/asciicast.js';
import { CastWriter, type RecordingFormat } from '../../../server/recordings/cast-writer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cast-writer-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes one scripted session (output split mid-character, input, a resize, markers, a long pause, an exit). */
async function write(format: RecordingFormat | undefined, idleLimit?: number): Promise<{ file: string; text: string; duration: number }> {
  let clock = 1_700_000_000_000;
  const file = path.join(dir, `${format ?? 'default'}-${idleLimit ?? 'none'}.cast`);
  const w = new CastWriter(file, { width: 80, height: 24, title: 'Demo (main)', now: () => clock, idleLimit, ...(format ? { format } : {}) });
  const at = (ms: number) => { clock += ms; };
  at(137); w.marker('1. Make a file');
  at(101); w.output(Buffer.from('root@lab:~# '));
  at(333); w.input('echo héllo\r');
  const bytes = Buffer.from('héllo\r\n');
  at(17); w.output(bytes.subarray(0, 2)); // "h" and half of "é"
  at(1); w.output(bytes.subarray(2));
  at(250); w.resize(100, 30);
  at(7_777); w.output(Buffer.from('after a long pause\r\n')); // cut to the idle limit, when there is one
  at(3); w.marker('2. Move it');
  at(1_001); w.exit(0);
  await w.close('Finished');
  return { file, text: fs.readFileSync(file, 'utf8'), duration: w.duration };
}

test('v2 stays the default; v3 writes term, intervals and the exit, and reads back to the same times', async () => {
  for (const idleLimit of [undefined, 1.5]) {
    const byDefault = await write(undefined, idleLimit);
    const v2 = await write('v2', idleLimit);
    const v3 = await write('v3', idleLimit);
    assert.equal(byDefault.text.replace(/"timestamp":\d+/, ''), v2.text.replace(/"timestamp":\d+/, ''), 'v2 unless asked');

    const header2 = JSON.parse(v2.text.split('\n')[0]!) as Record<string, unknown>;
    assert.equal(header2.version, 2);
    assert.equal(header2.width, 80);
    assert.deepEqual(header2.env, { TERM: 'xterm-256color', SHELL: '/bin/bash' });
    const header3 = JSON.parse(v3.text.split('\n')[0]!) as Record<string, unknown>;
    assert.equal(header3.version, 3);
    assert.deepEqual(header3.term, { cols: 80, rows: 24, type: 'xterm-256color' });
    assert.equal(header3.width, undefined);
    assert.equal(header3.idle_time_limit, idleLimit);
    assert.equal(header3.title, 'Demo (main)');
    assert.equal(header3.timestamp, 1_700_000_000);

    const c2 = parseAsciicast(v2.text);
    const c3 = parseAsciicast(v3.text);
    assert.deepEqual(c3.events, c2.events, 'the same events at the same times');
    assert.deepEqual(c2.events.map((e) => e[1]), ['m', 'o', 'i', 'o', 'o', 'r', 'o', 'm', 'm']);
    assert.equal(c2.events.filter((e) => e[1] === 'o').map((e) => e[2]).join(''), 'root@lab:~# héllo\r\nafter a long pause\r\n');
    assert.equal(c2.exit, undefined, 'v2 has no exit event');
    assert.ok(!v2.text.includes('"x"'));
    const end = c2.events.at(-1)![0];
    assert.equal(v2.duration, v3.duration);
    assert.ok(Math.abs(end - v2.duration) < 1e-6, `the last event (${end} s) is the duration (${v2.duration} s)`);
    assert.equal(c3.exit?.status, 0);
    assert.ok(c3.exit!.time <= end + 1e-9 && c3.exit!.time > end - 1.1, `the exit (${c3.exit!.time} s) is before the closing marker (${end} s)`);
    // The times: 0.137, 0.238, ... and the long pause, cut to 1.5 s with the limit.
    assert.equal(c2.events[0]![0], 0.137);
    assert.equal(c2.events[6]![0], idleLimit ? 0.839 + 1.5 : 0.839 + 7.777);
    // In the v3 file itself each time is the interval since the event before.
    const raw = v3.text.trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.deepEqual(raw.slice(0, 3).map((e) => e[0]), [0.137, 0.101, 0.333]);
    assert.deepEqual(raw.at(-2), [1.001, 'x', '0']);
    assert.deepEqual(raw.at(-1), [0, 'm', 'Finished']);
  }
});
