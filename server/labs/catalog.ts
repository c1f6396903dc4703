// The lab catalogue: every folder under labs/ that loads. Lab content lives in labs/, never in code.
import fs from 'node:fs';
import path from 'node:path';
import type { LabContent, LabSummary } from '../../protocol/api.js';
import { WALKTHROUGH_FILE } from './lab-format.js';
import { LabInvalid, loadLab, type Lab } from './lab-loader.js';

export type { Lab } from './lab-loader.js';

/** All labs, by id. A broken lab is reported through `onError` and left out; the rest still load. */
export function loadCatalog(labsDir: string, onError: (err: LabInvalid) => void): Map<string, Lab> {
  const labs = new Map<string, Lab>();
  const dirs = fs.readdirSync(labsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const id of dirs) {
    try {
      labs.set(id, loadLab(labsDir, id));
    } catch (err) {
      if (!(err instanceof LabInvalid)) throw err;
      onError(err);
    }
  }
  return labs;
}

export function summary(lab: Lab): LabSummary {
  const { id, title, description, profile, durationMinutes, difficulty, tags } = lab;
  const walkthrough = fs.existsSync(path.join(lab.dir, WALKTHROUGH_FILE));
  return { id, title, description, profile, durationMinutes, difficulty, tags, steps: lab.steps.length, walkthrough };
}

/** What the guide shows (GET /api/sessions/:id/lab, live reload's `lab-changed`): checks, setups and solutions stay here. */
export function labContent(lab: Lab): LabContent {
  return {
    id: lab.id, title: lab.title, intro: lab.intro, finish: lab.finish, hosts: lab.hosts, terminals: lab.terminals,
    steps: lab.steps.map((s) => ({
      title: s.title, text: s.text, hints: s.hints, terminal: s.terminal,
      ...(s.manual ? { manual: true } : {}), ...(s.foreground ? { foreground: s.foreground } : {}),
    })),
  };
}
