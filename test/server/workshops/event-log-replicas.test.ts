// The dashboard event log across servers sharing one database, on both databases: events appended
// by two servers at once reach the followers on each in one sequence, without gap or repeat; a
// follower starting late resumes where it asked. Signals are coalesced (a burst costs a few
// notifications, not one per event) and a payload that does not parse is dropped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../../server/log.js';
import type { Database } from '../../../server/store/database.js';
import { EventLog } from '../../../server/workshops/event-log.js';
import { RoomSignals, channelOf, decode, type RoomSignal } from '../../../server/workshops/room-signals.js';
import { WorkshopStore } from '../../../server/workshops/workshop-store.js';
import { until } from '../../helpers/lab-server.js';
import { backends } from '../store/backends.js';

const log = createLogger('silent');

/** One server's log: its own connection, signals and follower. */
async function server(db: Database, instance: string): Promise<{ events: EventLog; seen: number[]; signals: RoomSignals; heard: RoomSignal[] }> {
  const store = await WorkshopStore.open(db, instance);
  const signals = new RoomSignals(db, instance, log);
  const events = new EventLog(store, 1000, signals);
  const heard: RoomSignal[] = [];
  await signals.start({ onSignal: (s) => { heard.push(s); if (s.kind === 'events') events.heard(s.workshop, s.seq); }, onResync: () => events.resync() });
  const seen: number[] = [];
  await events.follow('w1', undefined, (e) => seen.push(e.seq), () => {});
  return { events, seen, signals, heard };
}

for (const backend of backends) {
  describe(`the event log across servers on ${backend.name}`, () => {
    test('appends from two servers at once reach both servers\' followers in one sequence', async () => {
      const { connect } = await backend.fresh();
      const a = await server(connect(), 'i1');
      const b = await server(connect(), 'i1');
      await Promise.all(Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).events.publish('w1', { type: 'broadcast', message: `m${i}`, at: i })));
      const all = Array.from({ length: 60 }, (_, i) => i + 1);
      await until('a follower on each server to see all 60', () => a.seen.length === 60 && b.seen.length === 60);
      assert.deepEqual(a.seen, all);
      assert.deepEqual(b.seen, all);
      // A dashboard connecting late to B resumes right after what it saw.
      const late: number[] = [];
      await b.events.follow('w1', 50, (e) => late.push(e.seq), (start) => { for (const e of start.missed ?? []) late.push(e.seq); });
      await a.events.publish('w1', { type: 'broadcast', message: 'last', at: 0 });
      await until('the late follower to get the last', () => late.includes(61));
      assert.deepEqual(late, Array.from({ length: 11 }, (_, i) => 51 + i));
      assert.equal(b.events.listening('w1'), 2);
      await a.signals.stop();
      await b.signals.stop();
    });

    test('a burst of signals is coalesced, and junk payloads are dropped', async () => {
      const { connect } = await backend.fresh();
      const db = connect();
      const sender = new RoomSignals(db, 'i2', log);
      const received: string[] = [];
      const off = await db.listen(channelOf('i2'), { onNotify: (p) => received.push(p) });
      const receiver = await server(connect(), 'i2');
      for (let i = 1; i <= 500; i++) sender.send({ kind: 'events', workshop: 'w1', seq: i });
      for (let i = 1; i <= 20; i++) sender.send({ kind: 'seat', workshop: 'w1', seat: String(i) });
      await until('the newest sequence number to arrive', () => receiver.heard.some((s) => s.kind === 'events' && s.seq === 500));
      await sender.stop();
      assert.ok(received.length <= 3, `${received.length} notifications for 520 signals`);
      assert.equal(receiver.heard.filter((s) => s.kind === 'seat').length, 20);
      // Other instances' channels differ; garbage in ours is ignored.
      assert.notEqual(channelOf('i2'), channelOf('i3'));
      await db.notify(channelOf('i2'), `x.w1 e.w1.notanumber s.w1.1;DROP e.${'a'.repeat(40)}.1 w.ok`);
      await until('the one valid item', () => receiver.heard.some((s) => s.kind === 'workshop' && s.workshop === 'ok'));
      assert.equal(receiver.heard.filter((s) => s.kind === 'workshop').length, 1);
      assert.deepEqual(decode('e.abc.7'), { kind: 'events', workshop: 'abc', seq: 7 });
      assert.equal(decode('s.abc.12345'), undefined);
      off();
      await receiver.signals.stop();
    });
  });
}
