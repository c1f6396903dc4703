// The workshop pieces that need no box: join codes, CSV escaping, stuck detection, the guard
// against code guessing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH, type SeatStep } from '../../../protocol/workshops.js';
import { loadConfig } from '../../../server/config.js';
import { seatsThatFit } from '../../../server/workshops/capacity.js';
import { CodeGuard } from '../../../server/workshops/code-guard.js';
import { csvCell, reportCsv } from '../../../server/workshops/report.js';
import { applyProgress, freshSteps } from '../../../server/workshops/seat-steps.js';
import { isJoinCode, newJoinCode, normaliseCode } from '../../../server/workshops/secrets.js';
import { stepMedians, stuckReason } from '../../../server/workshops/stuck.js';

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

// The event log and the workshops' rows (instances apart, the purge, seats and events under
// concurrency) are tested on SQLite and PostgreSQL in test/server/store/workshop-store.test.ts.

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
