// Live reload for a lab author (`npm run labs -- dev <lab>`, docs/authoring.md): the lab's folder is
// watched, and when a file changes the lab is loaded again and swapped into every running session of
// it, whose page hears it on the session channel (`lab-changed`) and keeps its terminal. A version
// that does not load is reported (file and line) and the last good one keeps running. Only
// startLabServer makes one, and only when config.devLab is set: normal serving watches nothing.
import fs from 'node:fs';
import path from 'node:path';
import type { LabFileProblem } from '../../protocol/api.js';
import type { Session } from '../sessions/session.js';
import { LabInvalid, loadLab, type Lab } from './lab-loader.js';

/** Editors write a file in several steps (truncate, write, rename): one reload after the last. */
const DEBOUNCE_MS = 150;

/** Fields of lab.yaml a running session cannot take over: its boxes and terminals were made from them. */
const BOX_FIELDS = ['profile', 'internet', 'hosts', 'terminals'] as const;
/** Fields that run when a lab starts: taken over, but they run only in the next session. */
const START_FIELDS = ['files', 'images', 'setup'] as const;

export interface LabDevOptions {
  labsDir: string;
  lab: string;
  /** The running sessions (the reload reaches those of this lab). */
  sessions: () => Session[];
  /** A new good version: the catalogue serves it to sessions started from now on. */
  onLab: (lab: Lab) => void;
  /** One line per reload for the author's terminal. */
  report: (line: string) => void;
}

export class LabDev {
  private readonly watcher: fs.FSWatcher;
  private timer: NodeJS.Timeout | undefined;
  /** What the last reload found, so a save that changed nothing (an editor's temp file) reloads nothing. */
  private lastSeen = '';
  private closed = false;

  constructor(private readonly options: LabDevOptions) {
    const dir = path.join(options.labsDir, options.lab);
    this.lastSeen = this.fingerprint(loadLab(options.labsDir, options.lab));
    // A folder watch, not one per file: editors that save by renaming a new file over the old one
    // (vim, most IDEs) would leave a per-file watch on a file that no longer exists.
    this.watcher = fs.watch(dir, { recursive: true }, () => this.schedule());
    this.watcher.on('error', (err) => options.report(`watching ${dir} failed: ${err.message}; restart npm run labs -- dev ${options.lab}`));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher.close();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), DEBOUNCE_MS);
  }

  /** Loads the lab again and tells every running session of it (and the author) what came of it. */
  reload(): void {
    if (this.closed) return;
    const { labsDir, lab: id } = this.options;
    let lab: Lab | undefined;
    let problems: LabFileProblem[] = [];
    try {
      lab = loadLab(labsDir, id);
    } catch (err) {
      // Anything else (the folder went away...) is the author's to see too, not a reason to stop serving.
      problems = err instanceof LabInvalid ? err.problems.map((p) => ({ ...p }))
        : [{ file: id, line: 1, message: `the lab could not be read: ${(err as Error).message}` }];
    }
    const seen = lab ? this.fingerprint(lab) : JSON.stringify(problems);
    if (seen === this.lastSeen) return;
    this.lastSeen = seen;
    if (lab) {
      this.options.onLab(lab);
      this.options.report(`reloaded ${id}: ${lab.steps.length} steps`);
    } else {
      for (const p of problems) this.options.report(`${p.file}:${p.line}: ${p.message}`);
      this.options.report(`${id} does not load: the last good version keeps running until the files are fixed`);
    }
    for (const session of this.options.sessions()) {
      if (session.lab.id !== id || session.endReason) continue;
      this.apply(session, lab, problems);
    }
  }

  private apply(session: Session, lab: Lab | undefined, problems: LabFileProblem[]): void {
    const running = session.lab;
    if (!lab) return session.reloadLab(undefined, problems.map((p) => ({ ...p, ...stepOf(running, labsRoot(running), p.file) })));
    const boxChanges = changedFields(running, lab, BOX_FIELDS);
    if (boxChanges.length) {
      // Steps may name the new hosts or terminals: the whole new version waits for a new session.
      const note = `lab.yaml changed ${boxChanges.join(', ')}: this session's boxes and terminals were made from the old ones, so nothing of the new version is applied here. End the lab and start it again.`;
      this.options.report(note);
      return session.reloadLab(undefined, [], [note]);
    }
    const startChanges = changedFields(running, lab, START_FIELDS);
    const notes = startChanges.length ? [`lab.yaml changed ${startChanges.join(', ')}: they run when a lab starts, so only in the next session (End the lab and start it again).`] : [];
    session.reloadLab(lab, [], notes);
  }

  /** The lab as loaded, in a form two loads can be compared in (file contents included: Buffer has toJSON). */
  private fingerprint(lab: Lab): string {
    return JSON.stringify(lab);
  }
}

/** The labs folder a lab was loaded from: problems name files relative to it (hello/steps/01-file.md). */
function labsRoot(lab: Lab): string {
  return path.dirname(lab.dir);
}

/** `{ step }` when `file` is one of the lab's step files, so the page can show the problem beside it. */
function stepOf(lab: Lab, root: string, file: string): { step?: number } {
  const index = lab.steps.findIndex((s) => path.relative(root, s.file) === file);
  return index >= 0 ? { step: index } : {};
}

function changedFields<K extends keyof Lab>(a: Lab, b: Lab, fields: readonly K[]): K[] {
  return fields.filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]));
}
