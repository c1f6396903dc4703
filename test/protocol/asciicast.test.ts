// The asciicast reader: v1, v2 and v3 files (written here, by hand, in each version's own shape)
// read into one model with absolute times, and broken files refused with the line at fault.
//   node --import tsx --test test/protocol/asciicast.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AsciicastError, castDuration, markers, parseAsciicast, toAsciicastV2, type Asciicast, type AsciicastEvent,
} from '../../protocol/asciicast.js';

const ndjson = (...lines: unknown[]): string => `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;

/** The same session in every version: a prompt, typed input, a resize, two markers, output. */
const EXPECTED: AsciicastEvent[] = [
  [0.5, 'o', 'root@lab:~# '],
  [0.7, 'm', '1. Make a file'],
  [1.0, 'i', 'ls\r'],
  [1.1, 'o', 'ls\r\nhello.txt\r\n'],
  [2.35, 'r', '100x30'],
  [3.35, 'm', '2. Move it'],
  [3.45, 'o', 'bye\r\n'],
];

const V2 = ndjson(
  { version: 2, width: 80, height: 24, timestamp: 1700000000, idle_time_limit: 1.5, title: 'Demo', env: { TERM: 'xterm-256color', SHELL: '/bin/bash' } },
  ...EXPECTED,
);

// asciicast v3 (asciinema 3): term in the header, intervals, comments, and an exit event.
const V3 = ndjson(
  { version: 3, term: { cols: 80, rows: 24, type: 'xterm-256color', version: 'VTE(7802)', theme: { fg: '#d0d0d0', bg: '#212121', palette: Array(16).fill('#000000').join(':') } },
    timestamp: 1700000000, idle_time_limit: 1.5, command: '/bin/bash', title: 'Demo', env: { SHELL: '/bin/bash' }, tags: ['demo', 'lab'] },
  '# the event stream follows the header',
  [0.5, 'o', 'root@lab:~# '],
  [0.2, 'm', '1. Make a file'],
  [0.3, 'i', 'ls\r'],
  [0.1, 'o', 'ls\r\nhello.txt\r\n'],
  '# the window was resized',
  [1.25, 'r', '100x30'],
  [1.0, 'm', '2. Move it'],
  [0.1, 'o', 'bye\r\n'],
  [0.25, 'x', '0'],
);

// asciicast v1 (asciinema 1.x): one JSON object, pretty-printed as asciinema wrote it; output only, delays.
const V1 = JSON.stringify({
  version: 1, width: 80, height: 24, duration: 3.45, command: '/bin/bash', title: 'Demo', env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
  stdout: [[0.5, 'root@lab:~# '], [0.6, 'ls\r\nhello.txt\r\n'], [2.35, 'bye\r\n']],
}, null, 2);

/** Parsing `text` fails on `line` with a message matching `reason`. */
function refused(text: string, line: number, reason: RegExp): void {
  assert.throws(() => parseAsciicast(text), (err: unknown) => {
    assert.ok(err instanceof AsciicastError, String(err));
    assert.equal(err.line, line, err.message);
    assert.match(err.message, reason);
    assert.match(err.message, new RegExp(`^line ${line}: `));
    return true;
  });
}

test('v2: times since the start, every event code, markers as chapters', () => {
  const cast = parseAsciicast(V2);
  assert.equal(cast.header.version, 2);
  assert.equal(cast.header.width, 80);
  assert.equal(cast.header.height, 24);
  assert.equal(cast.header.idle_time_limit, 1.5);
  assert.deepEqual(cast.events, EXPECTED);
  assert.equal(cast.exit, undefined);
  assert.deepEqual(markers(cast), [{ time: 0.7, label: '1. Make a file' }, { time: 3.35, label: '2. Move it' }]);
  assert.equal(castDuration(cast), 3.45);
  // A v2 file given back as v2 is the same recording.
  assert.deepEqual(parseAsciicast(toAsciicastV2(cast)), cast);
});

test('v3: term gives the size, intervals become times, comments are skipped, the exit status is kept', () => {
  const cast = parseAsciicast(V3);
  assert.equal(cast.header.version, 3);
  assert.equal(cast.header.width, 80);
  assert.equal(cast.header.height, 24);
  assert.equal(cast.header.term?.type, 'xterm-256color');
  assert.deepEqual(cast.header.tags, ['demo', 'lab']);
  assert.equal(cast.header.idle_time_limit, 1.5);
  assert.equal(cast.header.command, '/bin/bash');
  // Summed intervals land on the same microsecond as the v2 file's times (no 0.1 + 0.2 drift).
  assert.deepEqual(cast.events, EXPECTED);
  assert.deepEqual(cast.exit, { time: 3.7, status: 0 });
  assert.ok(!cast.events.some((e) => (e[1] as string) === 'x'), 'the exit is not an event to play');
  assert.deepEqual(markers(cast), markers(parseAsciicast(V2)));
  assert.equal(castDuration(cast), 3.7);
});

test('v3 as v2 (what the player is given): same times, size and theme; the exit left out', () => {
  const v2text = toAsciicastV2(parseAsciicast(V3));
  const lines = v2text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
  const header = lines[0] as Record<string, unknown>;
  assert.equal(header.version, 2);
  assert.equal(header.width, 80);
  assert.equal(header.height, 24);
  assert.equal(header.term, undefined);
  assert.deepEqual(header.env, { SHELL: '/bin/bash', TERM: 'xterm-256color' });
  assert.equal((header.theme as { fg: string }).fg, '#d0d0d0');
  assert.deepEqual(lines.slice(1), EXPECTED);
  const again = parseAsciicast(v2text);
  assert.equal(again.header.version, 2);
  assert.deepEqual(again.events, EXPECTED);
});

test('v3 exit statuses: non-zero and negative are kept, events may follow', () => {
  const header = { version: 3, term: { cols: 40, rows: 10 } };
  assert.deepEqual(parseAsciicast(ndjson(header, [1, 'o', 'x'], [0.5, 'x', '130'])).exit, { time: 1.5, status: 130 });
  assert.deepEqual(parseAsciicast(ndjson(header, [0.25, 'x', '-1'], [0.25, 'o', 'after'])), {
    header: { ...header, width: 40, height: 10 }, events: [[0.5, 'o', 'after']], exit: { time: 0.25, status: -1 },
  });
  // A file with only a header (the recorder writes it first) is a valid, empty recording.
  assert.deepEqual(parseAsciicast(ndjson(header)).events, []);
});

test('v1: one JSON object, pretty-printed or on one line; delays become times; output only', () => {
  const want: AsciicastEvent[] = [[0.5, 'o', 'root@lab:~# '], [1.1, 'o', 'ls\r\nhello.txt\r\n'], [3.45, 'o', 'bye\r\n']];
  for (const text of [V1, JSON.stringify(JSON.parse(V1)), `${JSON.stringify(JSON.parse(V1))}\n`]) {
    const cast = parseAsciicast(text);
    assert.equal(cast.header.version, 1);
    assert.equal(cast.header.width, 80);
    assert.equal(cast.header.height, 24);
    assert.equal(cast.header.duration, 3.45);
    assert.equal(cast.header.command, '/bin/bash');
    assert.equal(cast.header.stdout, undefined, 'the frames are events, not header');
    assert.deepEqual(cast.events, want);
    assert.deepEqual(markers(cast), []);
  }
  const asV2 = parseAsciicast(toAsciicastV2(parseAsciicast(V1)));
  assert.deepEqual(asV2.events, want);
  assert.equal(asV2.header.duration, 3.45);
});

test('the same session written in v1, v2 and v3 plays the same output at the same times', () => {
  const output = (c: Asciicast) => c.events.filter((e) => e[1] === 'o');
  const [v1, v2, v3] = [V1, V2, V3].map(parseAsciicast) as [Asciicast, Asciicast, Asciicast];
  assert.deepEqual(output(v1), output(v2));
  assert.deepEqual(output(v3), output(v2));
});

test('unknown or missing versions, and files that are no recording, say which versions are read', () => {
  refused('', 1, /the file is empty/);
  refused('these are my notes\nnot a recording\n', 1, /the header is not JSON: is this an asciicast \(\.cast\) file\? \(asciicast v1, v2 and v3 are readable\)/);
  refused(ndjson({ version: 4, width: 80, height: 24 }), 1, /version 4 is not supported: asciicast v1, v2 and v3 are/);
  refused(ndjson({ version: '2', width: 80, height: 24 }), 1, /version "2" is not supported/);
  refused(ndjson({ width: 80, height: 24 }), 1, /the header has no "version": asciicast v1, v2 and v3 are readable/);
  refused(ndjson([0, 'o', 'x']), 1, /the header must be a JSON object/);
  refused(JSON.stringify({ version: 2, width: 80, height: 24, stdout: [] }, null, 2), 1, /the file is one JSON object over several lines, as only asciicast v1 is, but its "version" is 2 \(asciicast v2 and v3 have one JSON value per line\)/);
});

test('v2 and v3 headers: size is checked where each version keeps it', () => {
  refused(ndjson({ version: 2, width: 0, height: 24 }), 1, /header "width" must be a whole number from 1 to 1000/);
  refused(ndjson({ version: 2, width: 80 }), 1, /header "height"/);
  refused(ndjson({ version: 3, width: 80, height: 24 }), 1, /an asciicast v3 header needs "term": \{"cols": \.\.\., "rows": \.\.\.\}/);
  refused(ndjson({ version: 3, term: { cols: 80, rows: 24.5 } }), 1, /header "term.rows" must be a whole number/);
  refused(ndjson({ version: 3, term: { cols: 5000, rows: 24 } }), 1, /header "term.cols"/);
  refused(`# a comment first\n${ndjson({ version: 3, term: { cols: 80, rows: 24 } })}`, 1, /the header is not JSON/);
  refused('{"version": 2, "width": 80,\n[0, "o", "x"]\n', 1, /the header is not JSON/);
});

test('v2 and v3 events: a broken line is named, a cut-off last line is called truncated', () => {
  const v2 = { version: 2, width: 80, height: 24 };
  const v3 = { version: 3, term: { cols: 80, rows: 24 } };
  for (const header of [v2, v3]) {
    refused(ndjson(header, [0.1, 'o', 'a'], '[0.2, "o", "b"', [0.3, 'o', 'c']), 3, /the event is not valid JSON/);
    refused(`${ndjson(header, [0.1, 'o', 'a'])}[0.2, "o", "b`, 3, /the last event is cut off: the file looks truncated/);
    refused(ndjson(header, [0.1, 'o']), 2, /an event must be \[(time|interval), code, data\]/);
    refused(ndjson(header, { t: 1 }), 2, /an event must be/);
    refused(ndjson(header, [0.1, 'o', 'a'], [0.2, 'o', 42]), 3, /the event data must be a string/);
    refused(ndjson(header, [0.1, 'r', '80 by 24']), 2, /a resize event's data must be "COLSxROWS", not "80 by 24"/);
    refused(ndjson(header, [0.1, 'q', '']), 2, /unknown event code "q"/);
    refused(ndjson(header, ['0.1', 'o', '']), 2, /must be a number of seconds/);
  }
  // A blank line in the middle is skipped; a comment is not v2.
  assert.equal(parseAsciicast(ndjson(v2, [0.1, 'o', 'a'], '', [0.2, 'o', 'b'])).events.length, 2);
  refused(ndjson(v2, [0.1, 'o', 'a'], '# a comment'), 3, /the event is not valid JSON/);
});

test('times: v2 may not go back, v3 intervals may not be negative; x only in v3, with a numeric status', () => {
  refused(ndjson({ version: 2, width: 80, height: 24 }, [1, 'o', 'a'], [0.5, 'o', 'b']), 3, /the event time 0.5 goes back before 1/);
  refused(ndjson({ version: 2, width: 80, height: 24 }, [-1, 'o', 'a']), 2, /the event time must be a number of seconds, 0 or more/);
  const v3 = { version: 3, term: { cols: 80, rows: 24 } };
  refused(ndjson(v3, [1, 'o', 'a'], [-0.5, 'o', 'b']), 3, /the event interval -0.5 is negative: a v3 event's time counts from the previous event/);
  // Intervals that are each smaller than the time before are fine in v3: they add up.
  assert.deepEqual(parseAsciicast(ndjson(v3, [1, 'o', 'a'], [0.5, 'o', 'b'])).events.map((e) => e[0]), [1, 1.5]);
  refused(ndjson(v3, [1, 'x', 'done']), 2, /an exit event's data must be the status as a whole number, not "done"/);
  refused(ndjson({ version: 2, width: 80, height: 24 }, [1, 'x', '0']), 2, /unknown event code "x" \(o, i, r or m\)/);
});

test('v1: broken files name the line, in the JSON or in the frame at fault', () => {
  const lines = V1.split('\n');
  // The second frame's delay (pretty-printed: one line per value) made negative, then a string.
  const second = lines.findIndex((l) => l.includes('0.6'));
  const withDelay = (delay: string) => lines.map((l, i) => (i === second ? l.replace('0.6', delay) : l)).join('\n');
  const frameLine = second; // the frame's "[" is on the line before its delay: 0-based second - 1, 1-based second
  refused(withDelay('-0.6'), frameLine, /stdout frame 2: the delay -0.6 is negative: a v1 frame's delay counts from the previous frame/);
  refused(withDelay('"0.6"'), frameLine, /stdout frame 2: the delay must be a number of seconds/);
  // One line: every frame is on line 1.
  const flat = JSON.parse(V1) as { stdout: unknown[] };
  refused(JSON.stringify({ ...flat, stdout: [[0.1, 'a'], [0.2]] }), 1, /stdout frame 2: a frame must be \[delay, data\]/);
  refused(JSON.stringify({ ...flat, stdout: [[0.1, 7]] }), 1, /stdout frame 1: the frame data must be a string/);
  refused(JSON.stringify({ ...flat, stdout: 'nope' }), 1, /an asciicast v1 file needs "stdout": \[\[delay, data\], \.\.\.\]/);
  refused(JSON.stringify({ ...flat, width: 'wide' }), 1, /header "width" must be a whole number/);
  // Broken JSON: the line where it breaks (a missing comma after the title).
  const title = lines.findIndex((l) => l.includes('"title"'));
  refused(lines.map((l, i) => (i === title ? l.replace(/,$/, '') : l)).join('\n'), title + 2, /the file is not valid JSON \(expected "," or "}", found "\\""\): an asciicast v1 file is one JSON object/);
  // Cut off in the middle: it ends too early.
  const cut = V1.slice(0, V1.length - 20);
  refused(cut, cut.split('\n').length, /the file is not valid JSON \(it ends too early\)/);
  // Something after a one-line v1 object.
  refused(`${JSON.stringify(flat)}\n[1, "o", "x"]\n`, 2, /an asciicast v1 file is one JSON object, but more follows it/);
});
