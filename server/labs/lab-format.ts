// The lab format, as zod schemas: labs/<id>/lab.yaml and the front matter of labs/<id>/steps/*.md.
// docs/authoring.md documents it for authors; keep the two in step.
import { z } from 'zod';

/** A lab's recorded walkthrough, beside its lab.yaml (made by `npm run labs -- record`). */
export const WALKTHROUGH_FILE = 'walkthrough.cast';

export const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const name = z.string().regex(NAME, 'must be lowercase letters, digits and dashes, starting with a letter (at most 31)');
const script = z.string().trim().min(1, 'must not be empty');

/**
 * Images a docker box has without a registry: loaded at start (busybox, web), or loaded from
 * /opt/termlab/registry.tar the first time a lab aliases it (registry:2, 23 MB, so not at start).
 */
export const BOX_IMAGES = ['busybox:latest', 'web:latest', 'registry:2'] as const;
/** A Docker image reference as written on a command line: [registry/]name[:tag]. */
const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/, 'must be an image name like nginx:alpine');

/** A mode chmod accepts: octal (755) or symbolic (+x, u+rw,go-w). */
export const CHMOD = /^(?:[0-7]{3,4}|[ugoa]*[-+=][rwxXst]+(?:,[ugoa]*[-+=][rwxXst]+)*)$/;

/** A file of the lab folder put into the box when the lab starts (Killercoda's "assets"). */
export const FileSpec = z.strictObject({
  /** Path inside the lab folder, e.g. assets/wait.sh. */
  file: z.string().min(1).refine((f) => !f.startsWith('/') && !f.split('/').includes('..'), 'must be a path inside the lab folder'),
  /** Folder in the box the file is copied into (`~` is root's home). */
  to: z.string().regex(/^(~|\/)[^\0\n']*$/, 'must be an absolute folder in the box, like /usr/local/bin or ~'),
  /** Passed to chmod: +x, 755, u+rwx... */
  chmod: z.string().regex(CHMOD, 'must be a chmod mode like +x or 755').optional(),
  /** The host to copy it to; default every host. */
  host: name.optional(),
});

export const HostSpec = z.strictObject({ name });
export const TerminalSpec = z.strictObject({
  id: name,
  /** The host whose shell this terminal shows. */
  host: name,
  title: z.string().min(1).max(40).optional(),
});

export const LabYaml = z.strictObject({
  title: z.string().min(1).max(120),
  description: z.string().min(1).max(2000),
  profile: z.enum(['shell', 'docker', 'kubernetes']),
  duration: z.number().int().min(1).max(600).optional(),
  difficulty: z.enum(['beginner', 'intermediate', 'advanced']).optional(),
  tags: z.array(z.string().min(1).max(40)).max(20).default([]),
  /** Outbound internet for the lab's boxes; off unless a lab asks. */
  internet: z.boolean().default(false),
  /** Boxes on one private network; default one host named "lab". */
  hosts: z.array(HostSpec).min(1).max(4).optional(),
  /** Terminal tabs; default one per host, named after it. */
  terminals: z.array(TerminalSpec).min(1).max(6).optional(),
  /** Files copied into the boxes when the lab starts, before `setup`. */
  files: z.array(FileSpec).max(50).optional(),
  /** docker labs: image names the lab's commands use → an image the box has (BOX_IMAGES), tagged at start. */
  images: z.record(imageRef, z.enum(BOX_IMAGES, { message: `must be one of the images a box has: ${BOX_IMAGES.join(', ')}` })).optional(),
  /** Bash script run (hidden) on the first host when the lab starts, before the first step's setup. */
  setup: script.optional(),
});
export type LabYaml = z.infer<typeof LabYaml>;

export const StepFrontMatter = z.strictObject({
  title: z.string().min(1).max(120),
  /** Where check, setup and solution run; default the first host. */
  host: name.optional(),
  /** Shell script run in the box, out of band; exit 0 passes, its output is the learner's feedback. Required unless manual. */
  check: script.optional(),
  /**
   * No check: the learner says when the step is done ("Done, next step"). For imported steps that
   * came without a way to verify them; `labs test` runs their solution but cannot prove them.
   */
  manual: z.boolean().default(false),
  /** Commands typed into the step's terminal when the step becomes current (Killercoda's "foreground"). */
  foreground: script.optional(),
  /** Shell script run (hidden) before the step becomes current. */
  setup: script.optional(),
  /** Commands that complete the step: typed by "show me", run by `labs test` and recordings. */
  solution: script,
  hints: z.array(z.string().min(1)).min(1, 'give at least one hint'),
  /** Seconds the check may take. */
  timeout: z.number().int().min(1).max(120).default(15),
  /** The terminal "show me" types the solution into; default the first terminal on the step's host. */
  terminal: name.optional(),
}).superRefine((step, ctx) => {
  // Every step is either proven by its check or explicitly left to the learner: never neither.
  if (!step.manual && step.check === undefined) ctx.addIssue({ code: 'custom', path: ['check'], message: 'is required (or set manual: true for a step the learner marks done)' });
  if (step.manual && step.check !== undefined) ctx.addIssue({ code: 'custom', path: ['manual'], message: 'a manual step has no check: remove check or manual' });
});
export type StepFrontMatter = z.infer<typeof StepFrontMatter>;
