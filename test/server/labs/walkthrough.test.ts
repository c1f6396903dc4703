// Walkthrough recordings on real boxes: a lab's solutions typed into a real terminal key by key, one
// marker per step, no keystrokes stored, a failing check writes nothing, and the real asciinema
// program reads the result. Also how solutions are cut into what an interactive bash runs at once.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseAsciicast } from '../../../protocol/asciicast.js';
import { loadConfig, type Config } from '../../../server/config.js';
import { loadLab, type Lab } from '../../../server/labs/lab-loader.js';
import { commandPieces, recordWalkthrough, WALKTHROUGH_FILE } from '../../../server/labs/walkthrough.js';
import { createLogger } from '../../../server/log.js';
import { createDockerDriver, type DockerDriver } from '../../../server/sandbox/driver.js';
import { asciinemaCat } from '../../helpers/asciinema.js';
import { testInstance } from '../../helpers/lab-server.js';

let config: Config;
let driver: DockerDriver;
let dir: string;
before(async () => {
  config = loadConfig(process.env, { instance: testInstance(), pool: { shell: 0, docker: 0, kubernetes: 0 } });
  driver = await createDockerDriver(config, createLogger('warn'), (line) => process.stderr.write(`${line}\n`));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-walkthrough-'));
});
after(async () => {
  await driver?.removeLeftovers();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const session = () => `walk-${crypto.randomBytes(3).toString('hex')}`;

test('hello-docker recorded from scratch: typed solutions, step markers, read by asciinema', async () => {
  const lab = loadLab(config.labsDir, 'hello-docker');
  const shipped = path.join(lab.dir, WALKTHROUGH_FILE);
  const shippedBefore = fs.existsSync(shipped) ? fs.readFileSync(shipped) : undefined;
  const out = path.join(dir, 'hello-docker.cast');
  const verdicts: number[] = [];

  const result = await recordWalkthrough(driver, lab, { out, session: session(), onStep: (v) => verdicts.push(v.step) });
  assert.ok(result.ok, JSON.stringify(result.steps));
  assert.deepEqual(verdicts, [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(dir), ['hello-docker.cast'], 'no temporary file is left');
  assert.deepEqual(fs.existsSync(shipped) ? fs.readFileSync(shipped) : undefined, shippedBefore, 'labs/ is not touched');

  const text = fs.readFileSync(out, 'utf8');
  assert.equal(Buffer.byteLength(text), result.bytes);
  const { header, events } = parseAsciicast(text);
  assert.equal(header.version, 2);
  assert.equal(header.width, 100);
  assert.equal(header.height, 28);
  assert.ok(typeof header.timestamp === 'number' && Math.abs(header.timestamp - Date.now() / 1000) < 120, `timestamp ${header.timestamp}`);
  assert.equal(header.title, 'Hello, Docker (walkthrough)');
  assert.deepEqual(header.env, { TERM: 'xterm-256color', SHELL: '/bin/bash' });
  assert.equal(header.idle_time_limit, 1.5);

  assert.deepEqual(events.filter((e) => e[1] === 'm').map((e) => e[2]), ['1. Run a container', '2. Serve a page on a published port', '3. Clean up', 'Finished']);
  assert.equal(events.filter((e) => e[1] === 'i').length, 0, 'keystrokes are not stored, only what the terminal showed');
  assert.ok(events.every((e, i) => i === 0 || e[0] - events[i - 1]![0] <= 1.5 + 1e-6), 'no gap longer than the idle limit');
  assert.ok(Math.abs(result.durationS - events.at(-1)![0]) < 1e-3);

  // What the terminal showed holds every line typed; readline wraps a long line at the margin by
  // writing " \r" after its last character, which is not part of the command.
  const shown = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('').replaceAll(' \r', '');
  for (const step of lab.steps) {
    for (const line of step.solution.trim().split('\n')) assert.ok(shown.includes(line), `typed: ${line}`);
  }
  assert.match(shown, /docker run --name first busybox echo hello\r\n(\x1b\[\?2004l\r)?hello\r\n/);

  // Typed, not pasted: the first command's keys each come as their own echo, 25-70 ms apart (plus the echo's own time).
  const first = lab.steps[0]!.solution.trim();
  const start = events.findIndex((e) => e[1] === 'o' && e[2] === first[0]);
  const keys = events.slice(start, start + first.length);
  assert.equal(keys.map((e) => e[2]).join(''), first);
  const gaps = keys.slice(1).map((e, i) => e[0] - keys[i]![0]).sort((a, b) => a - b);
  const median = gaps[gaps.length >> 1]!;
  assert.ok(gaps[0]! >= 0.025 && median < 0.1, `gaps between keys: ${gaps.map((g) => g.toFixed(3)).join(' ')}`);

  const played = await asciinemaCat(out);
  assert.equal(played.exitCode, 0, played.output);
  assert.match(played.output, /root@lab\x1b\[0m:\x1b\[1;34m~\x1b\[0m# docker run --name first busybox echo hello\r\n/);
  assert.match(played.output, /[\r\n]hello\r\n/);
  assert.ok(played.output.includes('docker rm -f first web\r\n'));
});

test('a check that fails after the typed solution fails the lab and writes nothing', async () => {
  const real = loadLab(config.labsDir, 'hello');
  const lab: Lab = { ...real, steps: [{ ...real.steps[0]!, check: 'echo "not good enough"; exit 1' }, ...real.steps.slice(1)] };
  const out = path.join(dir, 'kept.cast');
  fs.writeFileSync(out, 'an older walkthrough\n');

  const result = await recordWalkthrough(driver, lab, { out, session: session() });
  assert.equal(result.ok, false);
  assert.equal(result.steps.length, 1);
  assert.match(result.steps[0]!.detail, /check FAILS after the typed solution \(exit 1\): not good enough/);
  assert.equal(fs.readFileSync(out, 'utf8'), 'an older walkthrough\n');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('kept')), ['kept.cast']);
});

test('solutions are cut into what an interactive bash runs at once', () => {
  assert.deepEqual(commandPieces('echo a\n\nmkdir -p x && cd x\n'), [['echo a'], ['mkdir -p x && cd x']]);
  assert.deepEqual(commandPieces("cat > f <<'EOF'\nFROM busybox\nCMD [\"sh\"]\nEOF\ndocker build -t x ."),
    [["cat > f <<'EOF'", 'FROM busybox', 'CMD ["sh"]', 'EOF'], ['docker build -t x .']]);
  assert.deepEqual(commandPieces('for i in 1 2; do\n  echo $i\ndone\necho "a\nb"\nls \\\n  -l'),
    [['for i in 1 2; do', '  echo $i', 'done'], ['echo "a', 'b"'], ['ls \\', '  -l']]);
  // An exit written for `bash -c` must not end the terminal's shell; one inside quotes belongs to another shell.
  assert.deepEqual(commandPieces('sleep 1 &\nfor i in 1; do true && exit 0; done\nexit 1'),
    [['(', 'sleep 1 &', 'for i in 1; do true && exit 0; done', 'exit 1', ')']]);
  assert.deepEqual(commandPieces("docker run busybox sh -c 'date; exit 1'"), [["docker run busybox sh -c 'date; exit 1'"]]);
});
