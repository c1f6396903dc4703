// An imported Killercoda scenario in the guide, in a real Chromium against a real server and box:
// foreground scripts typed into the terminal once when their step becomes current (not again after
// a reload), a manual step's "Done, next step" in place of Check, and a converted {{exec}} Run button.
//   node --import tsx --test --test-timeout=300000 test/web/guide-killercoda.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { convertScenario, writeLab } from '../../server/labs/killercoda.js';
import type { LabServer } from '../../server/lab-server.js';
import { collectPageErrors, countLines, ensureWebBuilt, launchBrowser, startLab, terminalLines, waitForLine, waitForStep } from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers } from '../helpers/lab-server.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-kc-guide-'));
let server: LabServer;
let browser: Browser;

before(async () => {
  ensureWebBuilt();
  const scenario = path.join(work, 'scenario');
  const files: Record<string, string> = {
    'index.json': JSON.stringify({
      title: 'Foreground and manual steps',
      details: {
        intro: { text: 'intro.md', foreground: 'intro-fg.sh' },
        steps: [
          { title: 'Look', text: 'look.md', foreground: 'look-fg.sh' },
          { title: 'Touch', text: 'touch.md', foreground: 'touch-fg.sh', verify: 'verify.sh' },
        ],
      },
      backend: { imageid: 'ubuntu' },
    }),
    'intro.md': 'Hello.', 'intro-fg.sh': 'echo intro-fg-$((1+1))', 'look-fg.sh': 'echo look-fg-$((2+1))',
    'look.md': 'Look around: `ls /`{{exec}}', 'touch.md': 'Make the file:\n\n```\ntouch /tmp/made\n```{{exec}}',
    'touch-fg.sh': 'echo touch-fg-$((3+1))', 'verify.sh': 'test -f /tmp/made',
  };
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(scenario, rel)), { recursive: true });
    fs.writeFileSync(path.join(scenario, rel), content);
  }
  writeLab(path.join(work, 'labs'), convertScenario(scenario, { id: 'fg-manual' }));
  server = await startTestServer({ labsDir: path.join(work, 'labs') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  assert.deepEqual(await stopAndListLeftovers(server), [], 'containers left behind');
  fs.rmSync(work, { recursive: true, force: true });
});

test('foregrounds are typed once as their step comes up; a manual step is done by the learner\'s button', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  try {
    await startLab(page, server.url, 'fg-manual');
    // Step 1's foreground is the intro's then the step's own: typed as the lab comes up.
    await waitForLine(page, 'intro-fg-2');
    await waitForLine(page, 'look-fg-3');
    const guide = (id: string) => page.locator(`tl-guide [data-testid=${id}]`);
    await waitForStep(page, 1, 'current');
    assert.equal(await guide('check-button').count(), 0, 'a manual step has no Check');
    // The foreground's commands finished; a manual step does not complete by itself.
    await new Promise((r) => setTimeout(r, 1000));
    await waitForStep(page, 1, 'current');
    await guide('done-button').click();
    await waitForStep(page, 1, 'done');
    await waitForLine(page, 'touch-fg-4');
    assert.equal(await guide('done-button').count(), 0);
    await guide('check-button').waitFor();
    // The foreground's command is not the learner's attempt: no "Not yet" for it.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await guide('check-feedback').count(), 0, 'no feedback for the foreground\'s own command');

    // A reload does not type the foreground again (the screen is restored, with it once).
    await page.reload();
    await waitForStep(page, 2, 'current');
    await waitForLine(page, 'touch-fg-4');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(countLines(await terminalLines(page), 'touch-fg-4'), 1, (await terminalLines(page)).join('\n'));

    // The converted {{exec}} block has a Run button that completes the checked step.
    await page.locator('tl-guide [data-testid=step-content] [data-testid=run]').first().click();
    await waitForStep(page, 2, 'done');
    await guide('lab-finished').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
