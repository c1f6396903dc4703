// The workshop pieces that need no box: join codes, CSV escaping, stuck detection, the guard
// against code guessing, and the event log's resume and bound (an in-memory database).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH, type SeatStep } from '../../../protocol/workshops.js';
import { loadConfig } from '../../../server/config.js';
import { seatsThatFit } from '../../../server/workshops/capacity.js';
import { CodeGuard } from '../../../server/workshops/code-guard.js';
import { EventLog } from '../../../server/workshops/event-log.js';
import { csvCell, reportCsv } from '../../../server/workshops/report.js';
import { applyProgress, freshSteps } from '../../../server/workshops/seat-steps.js';
import { isJoinCode, newJoinCode, normaliseCode } from '../../../server/workshops/secrets.js';
import { stepMedians, stuckReason } from '../../../server/workshops/stuck.js';
import { WorkshopStore } from '../../../server/workshops/workshop-store.js';

test('join codes are 6 characters from the read-aloud alphabet', () => {
  for (let i = 0; i < 200; i++) {
    const code = newJoinCode();
    assert.equal(code.length, JOIN_CODE_LENGTH);
    assert.ok(isJoinCode(code), code);
    assert.ok(!/[01OIL]/.test(code), code);
  }
  assert.equal(normaliseCode(' abc-def '), 'ABCDEF');
  assert.ok(!isJoinCode('ABCDE0'));
  assert.equal(JOIN_CODE_ALPHABET.length, 31);
});

test('CSV cells starting = + - @ are escaped, and quoting is proper', () => {
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvCell('+1'), "'+1");
  assert.equal(csvCell('-2'), "'-2");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('line\nbreak'), '"line\nbreak"');
  assert.equal(csvCell(undefined), '');
  assert.equal(csvCell(3), '3');
  const csv = reportCsv([{ seat: '1', name: '=1+1', lab: 'hello', step: 1, stepTitle: 'Make a file', status: 'passed', attempts: 2, failures: 1, firstPassAt: 0, timeSpentMs: 5, hintsUsed: 1 }]);
  const [header, row] = csv.trim().split('\r\n');
  assert.equal(header, 'seat,name,lab,step,stepTitle,status,attempts,failures,firstPassAt,timeSpentMs,hintsUsed,recordingUrl');
  assert.equal(row, "1,'=1+1,hello,1,Make a file,passed,2,1,1970-01-01T00:00:00.000Z,5,1,");
});

test('a seat is stuck after N failed checks in a row, or long past the class median', () => {
  const settings = { ...loadConfig().workshops, stuckFailStreak: 3, stuckFactor: 2, stuckMinMs: 60_000 };
  const steps: SeatStep[] = freshSteps(2);
  let seen = 0;
  const progress = (passed: boolean, at: number) => ({ steps: ['current', 'pending'] as const, current: 0, finished: false, checking: false, feedback: { step: 0, passed, message: '', at } });
  for (let i = 1; i <= 2; i++) seen = applyProgress(steps, { ...progress(false, i), steps: ['current', 'pending'] }, seen, 0);
  // The same feedback seen again (another change of the progress) is not counted twice.
  seen = applyProgress(steps, { ...progress(false, 2), steps: ['current', 'pending'] }, seen, 0);
  assert.equal(steps[0]!.failStreak, 2);
  assert.equal(steps[0]!.state, 'failing');
  assert.equal(stuckReason(steps, 0, [], settings, 1000), undefined);
  seen = applyProgress(steps, { ...progress(false, 3), steps: ['current', 'pending'] }, seen, 0);
  assert.equal(stuckReason(steps, 0, [], settings, 1000), '3 failed checks in a row on step 1');

  // Time: others took 1 min on step 1; this seat has been on it 3 min.
  const others = [freshSteps(1), freshSteps(1)].map((s) => { s[0]!.since = 0; s[0]!.passedAt = 60_000; return s; });
  const slow = freshSteps(1);
  slow[0]!.state = 'current';
  slow[0]!.since = 0;
  const medians = stepMedians([...others, slow], 1);
  assert.equal(medians[0], 60_000);
  assert.equal(stuckReason(slow, 0, medians, settings, 100_000), undefined);
  assert.equal(stuckReason(slow, 0, medians, settings, 180_000), '3 min on step 1, class median 1 min');
});

test('unknown codes are limited per address; right codes from the same address are not', () => {
  let now = 0;
  const guard = new CodeGuard(3, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(guard.blocked('10.0.0.1'), undefined);
    guard.miss('10.0.0.1');
  }
  assert.ok(guard.blocked('10.0.0.1')! > 0, 'the fourth guess waits');
  assert.equal(guard.blocked('10.0.0.2'), undefined, 'another address is not affected');
  now += 20_000;
  assert.equal(guard.blocked('10.0.0.1'), undefined, 'a token comes back after 60/3 s');
});

test('the event log resumes after any kept id without gaps or duplicates, and stays bounded', () => {
  const store = new WorkshopStore(':memory:', 'test');
  const log = new EventLog(store, 20);
  for (let i = 0; i < 10; i++) log.publish('w1', { type: 'broadcast', message: `m${i}`, at: i });
  log.publish('w2', { type: 'broadcast', message: 'other', at: 0 });
  const live: number[] = [];
  const f = log.follow('w1', 4, (e) => live.push(e.seq));
  assert.deepEqual(f.missed?.map((e) => e.seq), [5, 6, 7, 8, 9, 10]);
  log.publish('w1', { type: 'broadcast', message: 'live', at: 11 });
  assert.deepEqual(live, [11]);
  f.stop();
  // A fresh follower (no id) gets no backlog: it is sent a state stamped with lastSeq.
  const fresh = log.follow('w1', undefined, () => {});
  assert.equal(fresh.missed, undefined);
  assert.equal(fresh.lastSeq, 11);
  fresh.stop();
  for (let i = 0; i < 200; i++) log.publish('w1', { type: 'broadcast', message: `n${i}`, at: i });
  assert.ok(store.eventCount('w1') <= 22, `kept ${store.eventCount('w1')} events`);
  assert.equal(store.lastSeq('w1'), 211);
  assert.equal(store.eventCount('w2'), 1, 'another workshop keeps its own');
  // Asking for events that were pruned gets a fresh state instead of a silent gap.
  assert.equal(log.follow('w1', 4, () => {}).missed, undefined);
  store.close();
});

/** Two servers' stores on one database file (as two instances sharing a state directory). */
function twoServersOneFile(): { a: WorkshopStore; b: WorkshopStore; done: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-ws-'));
  const file = path.join(dir, 'termlab.db');
  const a = new WorkshopStore(file, 'server-a');
  const b = new WorkshopStore(file, 'server-b');
  return { a, b, done: () => { a.close(); b.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('servers sharing a database file see only their own workshops', () => {
  const { a, b, done } = twoServersOneFile();
  a.createWorkshop({ id: 'w1', code: 'ABCDEF', title: 't', labs: ['hello'], seats: 1, startsAt: 0, endsAt: 1, paced: false,
    instructorHash: 'x', assistantHash: 'y', phase: 'open', createdAt: 0 });
  assert.equal(a.unfinished().length, 1);
  assert.equal(b.unfinished().length, 0, 'b never warms or ends a\'s workshop');
  assert.equal(b.workshop('w1'), undefined);
  assert.equal(b.byCode('ABCDEF'), undefined);
  done();
});

test('ended workshops past their retention go with their seats and events; recent, unfinished and other servers\' stay', () => {
  const { a, b, done } = twoServersOneFile();
  const make = (store: WorkshopStore, id: string, code: string, endsAt: number, phase: 'open' | 'ended') => {
    store.createWorkshop({ id, code, title: id, labs: ['hello'], seats: 2, startsAt: 0, endsAt, paced: false,
      instructorHash: 'x', assistantHash: 'y', phase, createdAt: 0 });
    store.takeSeat(id, 2, { learner: `l-${id}`, name: 'Ann', joinedAt: 0, lab: 'hello', hand: false, steps: [], past: {}, recordings: [] });
    store.appendEvent(id, { type: 'broadcast', message: 'hi', at: 0 }, 100);
  };
  make(a, 'old', 'AAAAAA', 1000, 'ended');
  make(a, 'recent', 'BBBBBB', 5000, 'ended');
  make(a, 'running', 'CCCCCC', 1000, 'open');
  make(b, 'theirs', 'DDDDDD', 1000, 'ended');
  assert.equal(a.deleteEndedBefore(2000), 1);
  assert.equal(a.workshop('old'), undefined);
  assert.equal(a.seats('old').length, 0);
  assert.equal(a.eventCount('old'), 0);
  for (const id of ['recent', 'running']) {
    assert.ok(a.workshop(id), `${id} stays`);
    assert.equal(a.seats(id).length, 1);
    assert.equal(a.eventCount(id), 1);
  }
  assert.ok(b.workshop('theirs'), "another server's workshop is its own to delete");
  assert.equal(a.deleteEndedBefore(2000), 0);
  done();
});

test('capacity: the session cap and the memory budget, beside overlapping workshops, say how many seats fit', () => {
  const config = { ...loadConfig(), maxSessions: 100, memoryBudgetMb: 512 * 32, workshops: { ...loadConfig().workshops, reserve: 2 } };
  const alone = seatsThatFit({ config, seatMb: 512, startsAt: 0, endsAt: 10, others: [] });
  assert.equal(alone.fits, 30);
  assert.match(alone.why, /512 MiB of box memory, plus 2 reserve boxes/);
  const other = { w: { seats: 10, startsAt: 5, endsAt: 20 } as never, seatMb: 512 };
  assert.equal(seatsThatFit({ config, seatMb: 512, startsAt: 0, endsAt: 10, others: [other] }).fits, 18);
  assert.equal(seatsThatFit({ config, seatMb: 512, startsAt: 20, endsAt: 30, others: [other] }).fits, 30, 'not overlapping');
  const capped = seatsThatFit({ config: { ...config, maxSessions: 6 }, seatMb: 512, startsAt: 0, endsAt: 10, others: [] });
  assert.deepEqual([capped.fits, /TERMLAB_MAX_SESSIONS/.test(capped.why)], [6, true]);
});
