// The fast-forward (protocol/fast-forward.ts) gives the very screen and scrollback a full parse gives, on the real
// @xterm/headless and its serializer (what a snapshot is), and skips only where that holds.
//   node --import tsx --test test/protocol/fast-forward.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import { couldSkip, fastForward, skippablePrefix, skipState } from '../../protocol/fast-forward.js';

const COLS = 80;
const ROWS = 24;
const SCROLLBACK = 300;

function terminal() {
  const term = new headless.Terminal({ cols: COLS, rows: ROWS, scrollback: SCROLLBACK, allowProposedApi: true });
  const serializer = new serialize.SerializeAddon();
  term.loadAddon(serializer as never);
  return { term, serializer };
}

const write = (term: headless.Terminal, data: Uint8Array | string) => new Promise<void>((resolve) => term.write(data, resolve));
const bytes = (s: string) => new TextEncoder().encode(s);
/** Lines as a tty sends them: CR LF after each. */
const lines = (n: number, text = (i: number) => `line ${i} ${'a'.repeat(60)}`) => Array.from({ length: n }, (_, i) => `${text(i)}\r\n`).join('');

/**
 * Writes `before` to two terminals, then `data`: whole to one, fast-forwarded to the other.
 * Returns both snapshots, the cursors and how much was skipped.
 */
async function both(before: string, data: string) {
  const full = terminal();
  const fast = terminal();
  await write(full.term, before);
  await write(fast.term, before);
  await write(full.term, bytes(data));
  const ff = fastForward(bytes(data), skipState(fast.term as never), SCROLLBACK);
  await write(fast.term, ff.write);
  const snap = (t: ReturnType<typeof terminal>) => ({
    screen: t.serializer.serialize({ scrollback: SCROLLBACK }),
    cursor: [t.term.buffer.active.cursorX, t.term.buffer.active.cursorY, t.term.buffer.active.baseY, t.term.buffer.active.length],
  });
  return { full: snap(full), fast: snap(fast), skipped: ff.skipped };
}

const PROMPT = '\x1b[1;32mroot@lab\x1b[0m:~# ';

test('a plain flood is mostly skipped, with the same screen, scrollback and cursor as parsing it all', async () => {
  const r = await both(`${PROMPT}yes | head\r\n`, `${lines(2000)}${PROMPT}`);
  assert.ok(r.skipped > 100_000, `skipped ${r.skipped} bytes`);
  assert.equal(r.fast.screen, r.full.screen);
  assert.deepEqual(r.fast.cursor, r.full.cursor);
});

test('lines wider than the terminal (wrapped rows) and a half-written last line come out the same', async () => {
  const wide = lines(1500, (i) => `${i}:${'b'.repeat(150)}`);
  const r = await both('partial line, cursor mid-row ', `${wide}tail without newline`);
  assert.ok(r.skipped > 0);
  assert.equal(r.fast.screen, r.full.screen);
  assert.deepEqual(r.fast.cursor, r.full.cursor);
});

test('a flood that starts with the cursor moved up over old rows (an editor, top) comes out the same', async () => {
  const r = await both(`${lines(60, (i) => `old ${i} ${'z'.repeat(70)}`)}\x1b[3;5Hxy`, lines(1200));
  assert.ok(r.skipped > 0);
  assert.equal(r.fast.screen, r.full.screen);
  assert.deepEqual(r.fast.cursor, r.full.cursor);
});

test('colours after the plain run (a prompt, ls --color) are parsed in full after the skip', async () => {
  const colored = Array.from({ length: 40 }, (_, i) => `\x1b[3${i % 8}mfile${i}\x1b[0m\r\n`).join('');
  const r = await both('', `${lines(1000)}${colored}\x1b[5A\x1b[2Kover${PROMPT}`);
  assert.ok(r.skipped > 0);
  assert.equal(r.fast.screen, r.full.screen);
  assert.deepEqual(r.fast.cursor, r.full.cursor);
});

test('nothing is skipped inside an escape sequence the flood would continue', async () => {
  // "ESC [ 3" then "1m...": the flood's first bytes end an SGR that colours everything after.
  const r = await both('\x1b[3', `1m${lines(1000)}`);
  assert.equal(r.skipped, 0);
  assert.equal(r.fast.screen, r.full.screen);
});

test('nothing is skipped under scroll margins or origin mode (rows outside them keep what was written)', async () => {
  for (const before of ['\x1b[5;20r', '\x1b[?6h']) {
    const r = await both(`${lines(30)}${before}`, lines(1000));
    assert.equal(r.skipped, 0, JSON.stringify(before));
    assert.equal(r.fast.screen, r.full.screen);
  }
});

test('too few lines to scroll everything out, escapes in the flood, or no CR before the cut: nothing skipped', () => {
  assert.equal(skippablePrefix(bytes(lines(SCROLLBACK + ROWS + ROWS - 1)), ROWS, SCROLLBACK), 0);
  assert.ok(skippablePrefix(bytes(lines(SCROLLBACK + 3 * ROWS)), ROWS, SCROLLBACK) > 0);
  const colouredEvery = Array.from({ length: 1000 }, () => '\x1b[31ma\x1b[0m\r\n').join('');
  assert.equal(skippablePrefix(bytes(colouredEvery), ROWS, SCROLLBACK), 0);
  assert.equal(skippablePrefix(bytes(lines(1000).replaceAll('\r\n', '\n')), ROWS, SCROLLBACK), 0);
  // Bytes beyond ASCII (UTF-8) end the plain run: the run before them is too short here.
  assert.equal(skippablePrefix(bytes(`${lines(10)}é${lines(1000)}`), ROWS, SCROLLBACK), 0);
});

test('the state is read from this xterm.js version\'s internals (a later version that moved them fails here)', async () => {
  const { term } = terminal();
  assert.deepEqual(skipState(term as never), { rows: ROWS, ground: true, defaultMargins: true });
  await write(term, '\x1b]0;title');
  assert.equal(skipState(term as never).ground, false, 'inside an OSC string');
  await write(term, '\x07\x1b[3;10r');
  assert.deepEqual(skipState(term as never), { rows: ROWS, ground: true, defaultMargins: false });
});

test('couldSkip is the cheap first test: too few lines is false, and whatever skippablePrefix skips passes it', () => {
  const long = bytes(lines(SCROLLBACK + 2 * ROWS - 1, (i) => `${i} ${'a'.repeat(300)}`));
  assert.equal(couldSkip(long, ROWS, SCROLLBACK), false);
  assert.equal(skippablePrefix(long, ROWS, SCROLLBACK), 0);
  const short = bytes(lines(2000));
  assert.equal(couldSkip(short, ROWS, SCROLLBACK), true);
  assert.ok(skippablePrefix(short, ROWS, SCROLLBACK) > 0);
});
