// Proofs of completion: what a finished attempt states, signed with the server's key (HMAC-SHA256),
// carried whole in the link. A teacher who opens the link is shown it only when the signature
// matches (so nobody edited a time or a step) and the attempt still exists (so a learner who erased
// their history has withdrawn it). The link is as unguessable as its attempt id: 18 random bytes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Completion } from '../../protocol/history.js';

/** Longer tokens are refused before any work: a lab has at most a few dozen steps. */
export const MAX_TOKEN_CHARS = 8192;

const completionSchema = z.object({
  attempt: z.string().max(64),
  lab: z.string().max(64),
  title: z.string().max(300),
  name: z.string().max(300),
  startedAt: z.number(),
  finishedAt: z.number(),
  steps: z.array(z.object({ title: z.string().max(300), passedAt: z.number() })).max(200),
  recordings: z.array(z.string().max(64)).max(50),
  issuedAt: z.number(),
}).strict();

/** The signing key: the configured secret, else one made once and kept (0600) in the state folder. */
export function completionKey(stateDir: string, secret: string | undefined): Buffer {
  if (secret) return Buffer.from(secret, 'utf8');
  const file = path.join(stateDir, 'completion.key');
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(stateDir, { recursive: true });
  const key = crypto.randomBytes(32);
  try {
    // 'wx': two servers starting on one state folder keep the first one's key.
    fs.writeFileSync(file, key.toString('hex'), { mode: 0o600, flag: 'wx' });
    return key;
  } catch {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  }
}

export class CompletionSigner {
  constructor(private readonly key: Buffer) {}

  sign(completion: Completion): string {
    const payload = Buffer.from(JSON.stringify(completion)).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The completion a token states, or why it cannot be believed. */
  verify(token: string): { ok: true; completion: Completion } | { ok: false; reason: string; malformed?: boolean } {
    const malformed = { ok: false as const, malformed: true, reason: 'this is not a completion link (it is cut short or was not made by termlab)' };
    if (token.length > MAX_TOKEN_CHARS) return malformed;
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(mac)) return malformed;
    const expected = Buffer.from(this.mac(payload), 'base64url');
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'the signature does not match: this page was not issued by this termlab server, or it was changed after it was issued' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return malformed;
    }
    const result = completionSchema.safeParse(parsed);
    return result.success ? { ok: true, completion: result.data } : malformed;
  }

  private mac(payload: string): string {
    return crypto.createHmac('sha256', this.key).update(`termlab-completion-v1.${payload}`).digest('base64url');
  }
}
