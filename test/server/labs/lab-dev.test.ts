// Live reload (`npm run labs -- dev <lab>`) on a real server with a real box: a temp copy of
// labs/hello is edited on disk while a session runs it. The running session takes the new version
// over (same session, same terminal), re-checks the current step with the new check, reports a
// version that does not load with file and line while the last good one keeps running, and clears
// the report once the file is fixed. A server not started by `labs dev` watches nothing.
//   node --import tsx --test --test-timeout=300000 test/server/labs/lab-dev.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { LabChangedMessage, SessionChannelMessage } from '../../../protocol/api.js';
import type { LabServer } from '../../../server/lab-server.js';
import { createSession, editFile, startTestServer, stopAndListLeftovers, until } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const labsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-dev-'));
const labDir = path.join(labsDir, 'hello');
const stepFile = path.join(labDir, 'steps', '01-file.md');
let server: LabServer;

before(async () => {
  fs.cpSync(path.join(ROOT, 'labs', 'hello'), labDir, { recursive: true });
  server = await startTestServer({ labsDir, devLab: 'hello' });
});

after(async () => {
  const left = await stopAndListLeftovers(server);
  fs.rmSync(labsDir, { recursive: true, force: true });
  assert.deepEqual(left, [], 'containers left behind');
});

function changes(ch: ProtocolClient): LabChangedMessage[] {
  return (ch.messages as SessionChannelMessage[]).filter((m): m is LabChangedMessage => m.type === 'lab-changed');
}

test('the server serves only the lab being written', async () => {
  const res = await fetch(`${server.url}/api/labs`);
  const body = (await res.json()) as { labs: Array<{ id: string }> };
  assert.deepEqual(body.labs.map((l) => l.id), ['hello']);
  assert.ok(server.dev, 'the watcher runs');
});

test('an edited step reaches the running session: new check re-run, same terminal; a broken file is reported and the old version kept; fixing it clears the report', async () => {
  const s = await createSession(server, 'hello');
  const session = server.sessions.byId(s.id)!;
  const term = await ProtocolClient.open(server.url, s.token);
  const ch = await ProtocolClient.openSession(server.url, s.token);
  term.type('echo typed-before-the-edit\r');
  await term.waitFor('the command\'s output', () => /\rtyped-before-the-edit\r\n/.test(term.text));
  const stream = session.existingTerminals()[0]!;

  // The step's text, title and check change on disk.
  editFile(stepFile, /^title: Make a file$/m, 'title: Make a file (edited)');
  editFile(stepFile, /^check: \|\n/m, 'check: |\n  echo "the edited check ran"; exit 1\n');
  editFile(stepFile, 'Write the word', 'Please write the word');
  const first = await until('a lab-changed message', () => changes(ch).at(-1));
  assert.deepEqual(first.problems, []);
  assert.equal(first.content.steps[0]!.title, 'Make a file (edited)');
  assert.match(first.content.steps[0]!.text, /^Please write the word/);
  assert.match(session.lab.steps[0]!.check!, /the edited check ran/);
  // The current step's check ran again, the new one: its words are the feedback.
  await ch.waitFor('the new check\'s verdict', () => ch.of('lab').some((m) => m.progress.feedback?.message === 'the edited check ran'), 15_000);
  assert.equal(ch.of('lab').at(-1)!.progress.current, 0);
  // Same session, same shell: the terminal and what it showed are still there.
  assert.equal(server.sessions.byId(s.id), session);
  assert.equal(session.existingTerminals()[0], stream);
  assert.equal(term.closeCode, undefined, 'the terminal socket stayed open');
  assert.match(term.text, /typed-before-the-edit/);

  // Broken front matter: the problem with file and line, beside step 1; the edited version keeps running.
  const seen = changes(ch).length;
  const lines = fs.readFileSync(stepFile, 'utf8').split('\n');
  lines.splice(1, 0, 'colour: red');
  fs.writeFileSync(stepFile, lines.join('\n'));
  const broken = await until('the problem', () => changes(ch).slice(seen).find((m) => m.problems.length > 0));
  assert.deepEqual(broken.problems, [{ file: 'hello/steps/01-file.md', line: 2, message: 'unknown field "colour"', step: 0 }]);
  assert.equal(broken.content.steps[0]!.title, 'Make a file (edited)', 'the last good version is what runs');
  assert.match(session.lab.steps[0]!.check!, /the edited check ran/);
  assert.deepEqual(session.labChange?.problems, broken.problems, 'kept for a page that connects later');

  // A page that connects now hears the problem too.
  const later = await ProtocolClient.openSession(server.url, s.token);
  assert.deepEqual(changes(later).at(-1)?.problems, broken.problems);
  later.close();

  // Fixed: the problems clear, and the fixed check runs.
  editFile(stepFile, 'colour: red\n', '');
  editFile(stepFile, 'echo "the edited check ran"; exit 1', 'echo "the fixed check ran"; exit 1');
  const fixed = await until('the problems to clear', () => changes(ch).slice(seen + 1).find((m) => m.problems.length === 0));
  assert.deepEqual(fixed.problems, []);
  await ch.waitFor('the fixed check\'s verdict', () => ch.of('lab').some((m) => m.progress.feedback?.message === 'the fixed check ran'), 15_000);

  // A new step: progress is kept by position, and the page is told.
  const before = changes(ch).length;
  fs.writeFileSync(path.join(labDir, 'steps', '04-extra.md'), '---\ntitle: One more\ncheck: "false"\nsolution: "true"\nhints: ["none"]\n---\nExtra.\n');
  const added = await until('the new step', () => changes(ch).slice(before).find((m) => m.content.steps.length === 4));
  assert.match(added.notes.join(' '), /now has 4 steps \(it had 3\)/);
  await ch.waitFor('four statuses', () => ch.of('lab').at(-1)?.progress.steps.length === 4);
  assert.deepEqual(ch.of('lab').at(-1)!.progress.steps, ['current', 'pending', 'pending', 'pending']);

  // A change of hosts needs new boxes: nothing of it is applied to this session, and the page is told why.
  const beforeHosts = changes(ch).length;
  fs.appendFileSync(path.join(labDir, 'lab.yaml'), 'hosts: [{ name: lab }, { name: other }]\n');
  const hosts = await until('the hosts note', () => changes(ch).slice(beforeHosts).find((m) => m.notes.length > 0));
  assert.match(hosts.notes[0]!, /lab\.yaml changed hosts.*End the lab and start it again/);
  assert.deepEqual(session.lab.hosts, ['lab']);
  assert.equal(hosts.content.terminals.length, 1);

  term.close();
  ch.close();
});

test('normal serving watches nothing and sends no lab-changed', async () => {
  const normal = await startTestServer({ labsDir });
  try {
    assert.equal(normal.dev, undefined);
    assert.equal(normal.config.devLab, undefined);
    assert.equal(normal.config.instance.startsWith('t-'), true);
  } finally {
    await normal.stop();
  }
});
