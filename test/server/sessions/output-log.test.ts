import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputLog } from '../../../server/sessions/output-log.js';

function readAll(log: OutputLog, from: number, chunk?: number): string {
  return [...log.read(from, chunk)].map((c) => c.bytes.toString()).join('');
}

test('keeps the newest bytes by absolute offset across wrap-around', () => {
  const log = new OutputLog(10);
  log.append(Buffer.from('abcdef'));
  log.append(Buffer.from('ghijkl'));
  assert.equal(log.endOffset, 12);
  assert.equal(log.startOffset, 2);
  assert.equal(readAll(log, 2), 'cdefghijkl');
  assert.equal(readAll(log, 9, 2), 'jkl');
  assert.equal(log.holds(1), false);
  assert.throws(() => [...log.read(1)], /outside the log/);
});

test('a chunk larger than the capacity keeps its tail', () => {
  const log = new OutputLog(4);
  log.append(Buffer.from('0123456789'));
  assert.equal(log.endOffset, 10);
  assert.equal(readAll(log, 6), '6789');
});

test('read yields pieces with their offsets', () => {
  const log = new OutputLog(100);
  log.append(Buffer.from('x'.repeat(25)));
  const pieces = [...log.read(0, 10)].map((c) => [c.offset, c.bytes.length]);
  assert.deepEqual(pieces, [[0, 10], [10, 10], [20, 5]]);
  assert.deepEqual([...log.read(25)], []);
});

test('a read with headroom copies each piece once, after room for a frame header', () => {
  const log = new OutputLog(8);
  log.append(Buffer.from('abcdef'));
  log.append(Buffer.from('ghij'));
  const pieces = [...log.read(3, 4, 9)];
  assert.deepEqual(pieces.map((c) => [c.offset, c.bytes.toString(), c.block.length]), [[3, 'defg', 13], [7, 'hij', 12]]);
  for (const { bytes, block } of pieces) {
    assert.equal(bytes.buffer, block.buffer);
    assert.equal(bytes.byteOffset, block.byteOffset + 9);
  }
});

test('a log continued from a page\'s offset (an adopted shell) holds nothing before it and everything after', () => {
  const log = new OutputLog(8);
  log.continueFrom(1000);
  assert.equal(log.holds(1000), true, 'the page resumes exactly where its screen stops');
  assert.equal(log.holds(999), false, 'an older offset gets a snapshot, as for any page too far behind');
  log.append(Buffer.from('abcdefghij'));
  assert.equal(log.endOffset, 1010);
  assert.equal(log.startOffset, 1002);
  assert.equal(readAll(log, 1002), 'cdefghij');
  assert.throws(() => log.continueFrom(5), /already holds output/);
});
