// An anonymous learner identity: a random id in an HttpOnly cookie, so "my recordings" works
// without accounts. It names an owner; it grants nothing else.
import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const COOKIE = 'tl_learner';
const ID = /^[A-Za-z0-9_-]{22,64}$/;

export function learnerId(req: Request): string {
  return (req as Request & { learner: string }).learner;
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export function learnerCookie() {
  return (req: Request, res: Response, next: NextFunction): void => {
    let id = readCookie(req, COOKIE);
    if (!id || !ID.test(id)) {
      id = crypto.randomBytes(18).toString('base64url');
      res.append('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`);
    }
    (req as Request & { learner: string }).learner = id;
    next();
  };
}

export { readCookie };
