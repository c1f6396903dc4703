// The page's pure workshop logic, without a browser: the route table, the dashboard's room folded
// from events (idempotent, so a resumed stream never duplicates), a seat's notices, broadcasts.
//   node --import tsx --test test/web/workshop-state.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SeatRow, WorkshopState } from '../../protocol/workshops.js';
import { splitBroadcast } from '../../web/lab/broadcast.js';
import { applyWorkshopEvent, median, sortedRows, stepStats } from '../../web/lab/room-state.js';
import { applySeatNotice } from '../../web/lab/seat-state.js';
import { routeOf } from '../../web/routes.js';

function row(seat: string, over: Partial<SeatRow> = {}): SeatRow {
  return {
    seat, name: seat, joinedAt: 1, lab: 'hello', current: 0, finished: false, hand: false, stuck: false, viewers: 0,
    control: 'learner', online: true, recordings: [],
    steps: [{ state: 'current', since: 1000, attempts: 0, failures: 0, failStreak: 0, hintsUsed: 0 }],
    ...over,
  };
}

const state: WorkshopState = {
  id: 'w1', code: 'ABCDEF', title: 'T', role: 'instructor', phase: 'open', startsAt: 0, endsAt: 10, seats: 3,
  labs: [{ id: 'hello', title: 'Hello', steps: [{ title: 'one', passed: 0 }] }], rows: [row('s1')], warm: 2, serverTime: 0,
};

test('routes: paths name their pages', () => {
  assert.deepEqual(routeOf({ pathname: '/', hash: '' }), { page: 'labs' });
  assert.deepEqual(routeOf({ pathname: '/', hash: '#/recordings' }), { page: 'recordings' });
  assert.deepEqual(routeOf({ pathname: '/watch/a%20b', hash: '' }), { page: 'watch', share: 'a b' });
  assert.deepEqual(routeOf({ pathname: '/workshops/new', hash: '' }), { page: 'workshop-new' });
  assert.deepEqual(routeOf({ pathname: '/workshops/w1', hash: '' }), { page: 'workshop-dashboard', id: 'w1' });
  assert.deepEqual(routeOf({ pathname: '/workshops/w1/report', hash: '' }), { page: 'workshop-report', id: 'w1' });
  assert.deepEqual(routeOf({ pathname: '/w/abcdef', hash: '' }), { page: 'workshop-join', code: 'ABCDEF' });
  assert.deepEqual(routeOf({ pathname: '/watch/%E0%A4%A', hash: '' }), { page: 'labs' }, 'a malformed escape');
});

test('the room: events are keyed, so applying one twice changes nothing', () => {
  let room = applyWorkshopEvent(undefined, { type: 'seat', row: row('s9') });
  assert.equal(room, undefined, 'nothing before the first state');
  room = applyWorkshopEvent(undefined, { type: 'state', state });
  const passed = row('s1', { steps: [{ state: 'passed', since: 1000, passedAt: 4000, attempts: 1, failures: 0, failStreak: 0, hintsUsed: 0 }] });
  const events = [
    { type: 'seat', row: row('s2') },
    { type: 'seat', row: passed },
    { type: 'broadcast', message: 'hi', at: 5 },
    { type: 'workshop', phase: 'open', endsAt: 20, warm: 1 },
  ] as const;
  for (const e of [...events, ...events]) room = applyWorkshopEvent(room, e);
  assert.equal(room!.rows.size, 2);
  assert.equal(room!.broadcasts.size, 1);
  assert.equal(room!.state.endsAt, 20);
  assert.deepEqual(stepStats([...room!.rows.values()], 1), [{ passed: 1, medianMs: 3000 }]);
  // A fresh state (a resume past what the server keeps) replaces the rows.
  room = applyWorkshopEvent(room, { type: 'state', state });
  assert.deepEqual([...room!.rows.keys()], ['s1']);
});

test('rows: raised hands, then stuck, then joining order', () => {
  const rows = [row('a', { joinedAt: 1 }), row('b', { joinedAt: 2, stuck: true }), row('c', { joinedAt: 3, hand: true }), row('d', { joinedAt: 0 })];
  assert.deepEqual(sortedRows(rows).map((r) => r.seat), ['c', 'b', 'd', 'a']);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), undefined);
});

test('a seat: notices fold into what the page shows; extending past a warning clears it', () => {
  let seat = applySeatNotice(undefined, { kind: 'workshop', title: 'T', endsAt: 100, phase: 'open' });
  seat = applySeatNotice(seat, { kind: 'viewers', count: 2 });
  seat = applySeatNotice(seat, { kind: 'hand', raised: true });
  seat = applySeatNotice(seat, { kind: 'control', state: 'requested' });
  seat = applySeatNotice(seat, { kind: 'ending', at: 100 });
  assert.deepEqual({ ...seat }, { title: 'T', phase: 'open', endsAt: 100, unlockedStep: undefined, hand: true, viewers: 2, control: 'requested', endingAt: 100 });
  seat = applySeatNotice(seat, { kind: 'workshop', title: 'T', endsAt: 200, phase: 'open' });
  assert.equal(seat.endingAt, undefined);
});

test('broadcasts: code in backticks is set apart', () => {
  assert.deepEqual(splitBroadcast('run `docker ps` now'), [
    { code: false, text: 'run ' }, { code: true, text: 'docker ps' }, { code: false, text: ' now' },
  ]);
  assert.deepEqual(splitBroadcast('```bash\nls -l\n```'), [{ code: true, text: 'ls -l' }]);
  assert.deepEqual(splitBroadcast('plain'), [{ code: false, text: 'plain' }]);
});
