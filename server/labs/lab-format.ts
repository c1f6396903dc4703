// The lab format, as zod schemas: labs/<id>/lab.yaml and the front matter of labs/<id>/steps/*.md.
// docs/authoring.md documents it for authors; keep the two in step.
import { z } from 'zod';

/** A lab's recorded walkthrough, beside its lab.yaml (made by `npm run labs -- record`). */
export const WALKTHROUGH_FILE = 'walkthrough.cast';

export const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const name = z.string().regex(NAME, 'must be lowercase letters, digits and dashes, starting with a letter (at most 31)');
const script = z.string().trim().min(1, 'must not be empty');

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
});
export type LabYaml = z.infer<typeof LabYaml>;

export const StepFrontMatter = z.strictObject({
  title: z.string().min(1).max(120),
  /** Where check, setup and solution run; default the first host. */
  host: name.optional(),
  /** Shell script run in the box, out of band; exit 0 passes, its output is the learner's feedback. */
  check: script,
  /** Shell script run (hidden) before the step becomes current. */
  setup: script.optional(),
  /** Commands that complete the step: typed by "show me", run by `labs test` and recordings. */
  solution: script,
  hints: z.array(z.string().min(1)).min(1, 'give at least one hint'),
  /** Seconds the check may take. */
  timeout: z.number().int().min(1).max(120).default(15),
  /** The terminal "show me" types the solution into; default the first terminal on the step's host. */
  terminal: name.optional(),
});
export type StepFrontMatter = z.infer<typeof StepFrontMatter>;
