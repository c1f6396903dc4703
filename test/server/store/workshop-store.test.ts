// Workshops, seats and dashboard events on both databases: the event log resumes without gaps and
// stays bounded, servers with other instance names never see each other's workshops, the purge
// takes what it should; with several servers at once a room never passes its seats, event numbers
// stay unique and gap-free, and purges do not clash.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FollowStart } from '../../../server/workshops/event-log.js';
import { EventLog } from '../../../server/workshops/event-log.js';
import { WorkshopStore, type SeatRecord, type WorkshopRecord } from '../../../server/workshops/workshop-store.js';
import { backends } from './backends.js';

function workshop(id: string, code: string, over: Partial<WorkshopRecord> = {}): WorkshopRecord {
  return { id, code, title: id, labs: ['hello', 'docker'], seats: 2, startsAt: 0, endsAt: 1, paced: false,
    instructorHash: 'x', assistantHash: 'y', phase: 'open', createdAt: 0, ...over };
}

function seat(learner: string): Omit<SeatRecord, 'workshop' | 'seat'> {
  return { learner, name: learner, joinedAt: 1_700_000_000_000, lab: 'hello', hand: false, steps: [], past: {}, recordings: [] };
}

for (const backend of backends) {
  describe(`workshop store on ${backend.name}`, () => {
    test('a workshop, its seats and changes are stored as given', async () => {
      const store = await WorkshopStore.open((await backend.fresh()).connect(), 'test');
      const w = workshop('w1', 'ABCDEF', { paced: true, unlockedStep: 1, startsAt: 1_700_000_000_000, endsAt: 1_700_000_360_000, phase: 'scheduled' });
      await store.createWorkshop(w);
      assert.deepEqual(await store.workshop('w1'), w);
      assert.deepEqual(await store.byCode('ABCDEF'), w);
      assert.equal(await store.codeTaken('ABCDEF'), true);
      assert.equal(await store.codeTaken('ZZZZZZ'), false);
      await store.update('w1', { endsAt: 1_700_000_999_000, phase: 'open', unlockedStep: 2 });
      assert.deepEqual(await store.workshop('w1'), { ...w, endsAt: 1_700_000_999_000, phase: 'open', unlockedStep: 2 });
      assert.deepEqual((await store.unfinished()).map((x) => x.id), ['w1']);
      await store.update('w1', { phase: 'ended' });
      assert.deepEqual(await store.unfinished(), []);

      const s1 = (await store.takeSeat('w1', 2, seat('ann')))!;
      assert.equal(s1.seat, '1');
      assert.equal((await store.takeSeat('w1', 2, seat('ann')))!.seat, '1', 'a learner already seated gets their seat');
      const s2 = (await store.takeSeat('w1', 2, seat('bob')))!;
      assert.equal(s2.seat, '2');
      assert.equal(await store.takeSeat('w1', 2, seat('cy')), undefined, 'full');
      const changed: SeatRecord = { ...s2, hand: true, session: 'sess', steps: [{ passedAt: 5, fails: 1, hintsUsed: 0 } as never], past: { docker: [] }, recordings: ['r1'] };
      await store.saveSeat(changed);
      assert.deepEqual(await store.seatOf('w1', 'bob'), changed);
      assert.deepEqual((await store.seats('w1')).map((s) => s.seat), ['1', '2']);
    });

    test('the event log resumes after any kept id without gaps or duplicates, and stays bounded', async () => {
      const store = await WorkshopStore.open((await backend.fresh()).connect(), 'test');
      const log = new EventLog(store, 20);
      for (let i = 0; i < 10; i++) await log.publish('w1', { type: 'broadcast', message: `m${i}`, at: i });
      await log.publish('w2', { type: 'broadcast', message: 'other', at: 0 });
      const live: number[] = [];
      let start: FollowStart | undefined;
      const stop = await log.follow('w1', 4, (e) => live.push(e.seq), (s) => { start = s; });
      assert.deepEqual(start?.missed?.map((e) => e.seq), [5, 6, 7, 8, 9, 10]);
      await log.publish('w1', { type: 'broadcast', message: 'live', at: 11 });
      assert.deepEqual(live, [11]);
      stop();
      // A fresh follower (no id) gets no backlog: it is sent a state stamped with lastSeq.
      const stopFresh = await log.follow('w1', undefined, () => {}, (s) => { start = s; });
      assert.equal(start?.missed, undefined);
      assert.equal(start?.lastSeq, 11);
      stopFresh();
      // Published without waiting, each in turn: followers see them in order.
      const order: number[] = [];
      const stopOrder = await log.follow('w1', undefined, (e) => order.push(e.seq), () => {});
      await Promise.all(Array.from({ length: 200 }, (_, i) => log.publish('w1', { type: 'broadcast', message: `n${i}`, at: i })));
      stopOrder();
      assert.deepEqual(order, Array.from({ length: 200 }, (_, i) => 12 + i));
      assert.ok(await store.eventCount('w1') <= 22, `kept ${await store.eventCount('w1')} events`);
      assert.equal(await store.lastSeq('w1'), 211);
      assert.ok(await store.firstSeq('w1') >= 190);
      assert.equal(await store.eventCount('w2'), 1, 'another workshop keeps its own');
      // Asking for events that were pruned gets a fresh state instead of a silent gap.
      await log.follow('w1', 4, () => {}, (s) => { start = s; });
      assert.equal(start?.missed, undefined);
    });

    test('servers with other instance names see only their own workshops', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await WorkshopStore.open(connect(), 'server-a'), await WorkshopStore.open(connect(), 'server-b')];
      await a.createWorkshop(workshop('w1', 'ABCDEF'));
      assert.equal((await a.unfinished()).length, 1);
      assert.equal((await b.unfinished()).length, 0, 'b never warms or ends a\'s workshop');
      assert.equal(await b.workshop('w1'), undefined);
      assert.equal(await b.byCode('ABCDEF'), undefined);
    });

    test('ended workshops past their retention go with their seats and events; recent, unfinished and other servers\' stay', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await WorkshopStore.open(connect(), 'server-a'), await WorkshopStore.open(connect(), 'server-b')];
      const make = async (store: WorkshopStore, id: string, code: string, endsAt: number, phase: 'open' | 'ended') => {
        await store.createWorkshop(workshop(id, code, { endsAt, phase }));
        await store.takeSeat(id, 2, seat(`l-${id}`));
        await store.appendEvent(id, { type: 'broadcast', message: 'hi', at: 0 }, 100);
      };
      await make(a, 'old', 'AAAAAA', 1000, 'ended');
      await make(a, 'recent', 'BBBBBB', 5000, 'ended');
      await make(a, 'running', 'CCCCCC', 1000, 'open');
      await make(b, 'theirs', 'DDDDDD', 1000, 'ended');
      assert.equal(await a.deleteEndedBefore(2000), 1);
      assert.equal(await a.workshop('old'), undefined);
      assert.equal((await a.seats('old')).length, 0);
      assert.equal(await a.eventCount('old'), 0);
      for (const id of ['recent', 'running']) {
        assert.ok(await a.workshop(id), `${id} stays`);
        assert.equal((await a.seats(id)).length, 1);
        assert.equal(await a.eventCount(id), 1);
      }
      assert.ok(await b.workshop('theirs'), "another server's workshop is its own to delete");
      assert.equal(await a.deleteEndedBefore(2000), 0);
    });

    test('two servers racing 50 learners for 10 seats seat exactly 10, on seats 1 to 10', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await WorkshopStore.open(connect(), 'room'), await WorkshopStore.open(connect(), 'room')];
      await a.createWorkshop(workshop('w', 'EEEEEE', { seats: 10 }));
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).takeSeat('w', 10, seat(`learner${i}`))));
      const seated = results.filter((r) => r !== undefined);
      assert.equal(seated.length, 10);
      assert.deepEqual(seated.map((s) => Number(s.seat)).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal((await b.seats('w')).length, 10);
      assert.equal(new Set((await b.seats('w')).map((s) => s.learner)).size, 10);
    });

    test('two servers appending 100 events at once number them 1 to 100, each once', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await WorkshopStore.open(connect(), 'room'), await WorkshopStore.open(connect(), 'room')];
      const stored = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).appendEvent('w', { type: 'broadcast', message: `e${i}`, at: i }, 1000)));
      assert.deepEqual(stored.map((e) => e.seq).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1));
      assert.deepEqual((await a.eventsAfter('w', 0)).map((e) => e.seq), Array.from({ length: 100 }, (_, i) => i + 1));
    });

    test('purges run by two servers at once do not fail and delete each workshop once', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await WorkshopStore.open(connect(), 'room'), await WorkshopStore.open(connect(), 'room')];
      for (let i = 0; i < 10; i++) {
        await a.createWorkshop(workshop(`w${i}`, `CODE${String(i).padStart(2, '0')}`, { phase: 'ended', endsAt: 1000 }));
        await a.takeSeat(`w${i}`, 2, seat('ann'));
        await a.appendEvent(`w${i}`, { type: 'broadcast', message: 'hi', at: 0 }, 100);
      }
      const gone = await Promise.all([a.deleteEndedBefore(2000), b.deleteEndedBefore(2000), a.deleteEndedBefore(2000)]);
      assert.equal(gone.reduce((x, y) => x + y, 0), 10);
      assert.deepEqual(await b.unfinished(), []);
      assert.equal(await b.workshop('w3'), undefined);
    });
  });
}
