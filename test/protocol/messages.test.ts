import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BINARY_HEADER_BYTES, CLOSE, FRAME_OUTPUT, FRAME_SNAPSHOT, MAX_COLS, closeCodeFor, decodeBinaryFrame, encodeBinaryFrame, errorMessage,
  writeFrameHeader,
} from '../../protocol/messages.js';
import { parseClientMessage } from '../../protocol/validate.js';

const token = 'a'.repeat(43);

test('a valid hello parses, with terminal defaulting to main', () => {
  const r = parseClientMessage(JSON.stringify({ type: 'hello', v: 1, token, cols: 80, rows: 24 }));
  assert.ok(r.ok);
  assert.equal(r.ok && r.message.type === 'hello' && r.message.channel === 'terminal' && r.message.terminal, 'main');
});

test('hello names its channel; each channel gets the fields it needs, and says precisely what is missing', () => {
  const hello = (fields: Record<string, unknown>) => parseClientMessage(JSON.stringify({ type: 'hello', v: 1, token, ...fields }));
  const s = hello({ channel: 'session' });
  assert.ok(s.ok && s.message.type === 'hello' && s.message.channel === 'session');
  const v = hello({ channel: 'view', cols: 100, rows: 30 });
  assert.ok(v.ok && v.message.type === 'hello' && v.message.channel === 'view' && v.message.terminal === 'main' && v.message.cols === 100);
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /hello: a terminal hello needs cols and rows/],
    [{ cols: 80 }, /hello: a terminal hello needs cols and rows/],
    [{ channel: 'view', rows: 24 }, /hello: a view hello needs cols and rows/],
    [{ channel: 'view', cols: 80, rows: 24, resumeFrom: 10 }, /a view always starts from a snapshot/],
    [{ channel: 'session', cols: 80, rows: 24 }, /a session hello carries no cols, rows/],
    [{ channel: 'session', terminal: 'main' }, /carries no terminal/],
    [{ channel: 'spy', cols: 80, rows: 24 }, /channel/],
  ];
  for (const [fields, pattern] of refused) {
    const r = hello(fields);
    assert.equal(r.ok, false, JSON.stringify(fields));
    if (!r.ok) {
      assert.equal(r.code, 'bad-message');
      assert.match(r.message, pattern);
    }
  }
});

test('bad JSON, unknown types, extra fields and out-of-range sizes are each named', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['{not json', 'bad-json', /not valid JSON/],
    [JSON.stringify({ type: 'launch-missiles' }), 'bad-message', /type/],
    [JSON.stringify({ type: 'resize', cols: MAX_COLS + 1, rows: 10 }), 'bad-message', /cols/],
    [JSON.stringify({ type: 'resize', cols: 80, rows: 24, extra: 1 }), 'bad-message', /extra/],
    [JSON.stringify({ type: 'input', data: '' }), 'bad-message', /data/],
    [JSON.stringify({ type: 'ack', offset: -1 }), 'bad-message', /offset/],
    [JSON.stringify({ type: 'hello', v: 2, token, cols: 80, rows: 24 }), 'bad-version', /v1/],
    [JSON.stringify({ type: 'hello', v: 1, token: 'short', cols: 80, rows: 24 }), 'bad-message', /token/],
    [JSON.stringify(null), 'bad-message', /./],
    [JSON.stringify([1, 2]), 'bad-message', /./],
  ];
  for (const [text, code, pattern] of cases) {
    const r = parseClientMessage(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) {
      assert.equal(r.code, code, text);
      assert.match(r.message, pattern, text);
    }
  }
});

test('binary frames round-trip their kind, offset and payload', () => {
  const payload = new TextEncoder().encode('héllo \x1b[31mred\x1b[0m');
  for (const kind of [FRAME_OUTPUT, FRAME_SNAPSHOT] as const) {
    const frame = decodeBinaryFrame(encodeBinaryFrame(kind, 2 ** 40 + 7, payload));
    assert.equal(frame.kind, kind);
    assert.equal(frame.offset, 2 ** 40 + 7);
    assert.deepEqual([...frame.payload], [...payload]);
  }
  assert.throws(() => decodeBinaryFrame(new Uint8Array(3)), /shorter than its header/);
  assert.throws(() => decodeBinaryFrame(new Uint8Array(12).fill(9)), /unknown binary frame kind 9/);
});

test('fatal errors are marked fatal, others not', () => {
  assert.equal(errorMessage('bad-token').fatal, true);
  assert.equal(errorMessage('bad-json').fatal, false);
  assert.equal(errorMessage('read-only').fatal, false, 'a viewer that types is told, and keeps watching');
  assert.equal(errorMessage('too-slow').fatal, true);
  assert.equal(closeCodeFor('too-slow'), CLOSE.tooSlow);
});

test('a header written in front of a payload already in place makes the same frame, inside a larger buffer too', () => {
  const payload = new TextEncoder().encode('output');
  const shared = new Uint8Array(64).fill(0xee);
  const frame = shared.subarray(20, 20 + BINARY_HEADER_BYTES + payload.length);
  frame.set(payload, BINARY_HEADER_BYTES);
  assert.equal(writeFrameHeader(frame, FRAME_OUTPUT, 12345), frame);
  assert.deepEqual(frame, encodeBinaryFrame(FRAME_OUTPUT, 12345, payload));
  assert.equal(shared[19], 0xee);
  assert.equal(shared[20 + frame.length], 0xee);
});
