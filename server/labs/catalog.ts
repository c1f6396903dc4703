// The lab catalogue: every folder under labs/ with a lab.yaml. Lab content lives in labs/, never in code.
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import type { LabSummary } from '../../protocol/api.js';

const LabMeta = z.strictObject({
  title: z.string().min(1).max(120),
  description: z.string().min(1).max(2000),
  profile: z.enum(['shell', 'docker']),
  duration: z.number().int().min(1).max(600).optional(),
  difficulty: z.enum(['beginner', 'intermediate', 'advanced']).optional(),
  tags: z.array(z.string().min(1).max(40)).max(20).default([]),
  /** Outbound internet for the lab's boxes; off unless a lab asks. */
  internet: z.boolean().default(false),
});

export interface Lab extends LabSummary {
  dir: string;
  internet: boolean;
}

export const LAB_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export async function loadLab(labsDir: string, id: string): Promise<Lab> {
  if (!LAB_ID.test(id)) throw new Error(`lab id "${id}" must be lowercase letters, digits and dashes`);
  const dir = path.join(labsDir, id);
  const file = path.join(dir, 'lab.yaml');
  const text = await fs.readFile(file, 'utf8');
  const doc = YAML.parse(text) as unknown;
  const parsed = LabMeta.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.join('.') || '(top)'}: ${issue?.message}`);
  }
  const meta = parsed.data;
  return {
    id, dir, title: meta.title, description: meta.description, profile: meta.profile,
    durationMinutes: meta.duration, difficulty: meta.difficulty, tags: meta.tags, internet: meta.internet,
  };
}

/** All labs, sorted by id. A broken lab is reported through `onError` and left out; the rest still load. */
export async function loadCatalog(labsDir: string, onError: (err: Error) => void): Promise<Map<string, Lab>> {
  const entries = await fs.readdir(labsDir, { withFileTypes: true });
  const labs = new Map<string, Lab>();
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    try {
      labs.set(entry.name, await loadLab(labsDir, entry.name));
    } catch (err) {
      onError(err as Error);
    }
  }
  return labs;
}

export function summary(lab: Lab): LabSummary {
  const { id, title, description, profile, durationMinutes, difficulty, tags } = lab;
  return { id, title, description, profile, durationMinutes, difficulty, tags };
}
