// The secrets of a workshop: its join code (public, read aloud in a room) and its instructor and
// assistant keys (shown once, kept only as hashes, so a copy of the database opens nothing).
import crypto from 'node:crypto';
import { JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH } from '../../protocol/workshops.js';

/** A join code: uniform over the alphabet (rejection sampling, no modulo bias). */
export function newJoinCode(): string {
  let code = '';
  while (code.length < JOIN_CODE_LENGTH) {
    for (const byte of crypto.randomBytes(16)) {
      // 248 = 8 * 31: bytes at or above it would favour the first letters.
      if (byte < 248 && code.length < JOIN_CODE_LENGTH) code += JOIN_CODE_ALPHABET[byte % JOIN_CODE_ALPHABET.length];
    }
  }
  return code;
}

/** What a learner typed, as a code: upper case, spaces and dashes dropped (codes hold no look-alikes to fold). */
export function normaliseCode(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]/g, '');
}

export function isJoinCode(code: string): boolean {
  return code.length === JOIN_CODE_LENGTH && [...code].every((c) => JOIN_CODE_ALPHABET.includes(c));
}

export function newWorkshopId(): string { return crypto.randomBytes(9).toString('base64url').replace(/[-_]/g, 'x'); }

/** A role key: 32 random bytes, URL-safe. */
export function newKey(): string { return crypto.randomBytes(32).toString('base64url'); }

export function hashKey(key: string): string { return crypto.createHash('sha256').update(key).digest('hex'); }

/** Does `key` hash to `hash`? Compared in constant time. */
export function keyMatches(key: string, hash: string): boolean {
  const a = Buffer.from(hashKey(key), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
