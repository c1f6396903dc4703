// The browser app's files (dist/web, built by scripts/build-web.mjs), compressed and cached:
// - The build wrote NAME.br and NAME.gz beside every .js, .css and .html. The one the browser
//   accepts is sent, with Content-Encoding: compressing here would cost the event loop CPU on
//   every page load (a megabyte of JavaScript through brotli), where choosing costs two stat calls.
// - chunks/ names carry a hash of their content: a browser keeps them a year without asking.
//   app.js, app.css and index.html keep their names across builds: revalidated (ETag) every time.
// The app's own paths (/watch/:share, /w/:code, ...) get index.html.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';

/** Preferred first: brotli is about 15% smaller than gzip on this bundle. */
const ENCODINGS = [{ name: 'br', ext: '.br' }, { name: 'gzip', ext: '.gz' }] as const;
/** What has compressed copies, and its type (the copy's own extension would say application/x-brotli). */
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};
const HASHED_DIR = 'chunks';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/** The codings an Accept-Encoding header allows ("gzip, deflate, br;q=0.9" → gzip, deflate, br); q=0 refuses one. */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (coding && !(q !== undefined && Number(q.slice(2)) === 0)) accepted.add(coding);
  }
  return accepted;
}

/**
 * Points the request at NAME.br or NAME.gz when the browser accepts it and the copy is at least as
 * new as NAME (an older one is left from an earlier build: `build-web --watch` rewrites the copies
 * after the files). express.static then serves the copy, with its own ETag and length.
 */
function chooseEncoding(webDir: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const rel = req.path.endsWith('/') ? `${req.path}index.html` : req.path;
    if (!(path.extname(rel) in TYPES)) return next();
    // Caches between here and the browser must keep one answer per Accept-Encoding.
    res.vary('Accept-Encoding');
    const wanted = ENCODINGS.filter((e) => acceptedEncodings(req.get('accept-encoding')).has(e.name));
    if (wanted.length === 0) return next();
    let file: string;
    try {
      file = path.join(webDir, decodeURIComponent(rel));
    } catch {
      return next(); // a malformed escape: express.static answers it
    }
    if (!file.startsWith(webDir + path.sep)) return next();
    const original = await stat(file).catch(() => undefined);
    if (!original?.isFile()) return next();
    for (const encoding of wanted) {
      const copy = await stat(file + encoding.ext).catch(() => undefined);
      if (copy?.isFile() && copy.mtimeMs >= original.mtimeMs) {
        req.url = rel + encoding.ext;
        break;
      }
    }
    next();
  };
}

/** Headers of the file express.static is about to send (a compressed copy says what it holds). */
function fileHeaders(webDir: string) {
  return (res: Response, file: string): void => {
    const encoding = ENCODINGS.find((e) => file.endsWith(e.ext));
    const type = encoding && TYPES[path.extname(file.slice(0, -encoding.ext.length))];
    if (encoding && type) res.set({ 'Content-Encoding': encoding.name, 'Content-Type': type });
    const hashed = path.relative(webDir, file).startsWith(HASHED_DIR + path.sep);
    res.set('Cache-Control', hashed ? IMMUTABLE : REVALIDATE);
  };
}

/** Serves `webDir`; `pages` are paths of the app (Express patterns) answered with index.html. */
export function webFiles(webDir: string, pages: string[]): express.Router {
  const dir = path.resolve(webDir);
  const router = express.Router();
  router.get(pages, (req, _res, next) => {
    req.url = '/index.html';
    next();
  });
  router.use(chooseEncoding(dir));
  router.use(express.static(dir, { index: 'index.html', setHeaders: fileHeaders(dir) }));
  return router;
}
