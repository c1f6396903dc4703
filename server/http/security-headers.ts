// Response headers that limit what a page of this origin may do, and who may frame or open it.
// The port proxy (/p/...) sets its own, stricter ones: its pages are the learner's, not ours.
import type { NextFunction, Request, Response } from 'express';

/**
 * 'wasm-unsafe-eval': asciinema-player compiles its terminal emulator from WebAssembly bytes
 * bundled in its chunk. script-src 'self' covers app.js and the chunks it imports (same origin,
 * dist/web/chunks/). 'unsafe-inline' styles: xterm.js and Lit set style attributes and inject
 * <style> at run time. The favicon is a data: SVG.
 */
const BASE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export const PAGE_CSP = `${BASE_CSP}; frame-ancestors 'none'`;
/** /embed/<share> is made to be framed by other sites (the share dialog gives the iframe). */
export const EMBED_CSP = `${BASE_CSP}; frame-ancestors *`;

/** Powerful features the app never uses (clipboard and fullscreen stay: copy/paste and the player use them). */
export const PERMISSIONS_POLICY = [
  'camera', 'microphone', 'geolocation', 'payment', 'usb', 'serial', 'hid', 'bluetooth', 'midi',
  'display-capture', 'accelerometer', 'gyroscope', 'magnetometer', 'screen-wake-lock', 'xr-spatial-tracking',
].map((f) => `${f}=()`).join(', ');

export function securityHeaders(opts: { skipPrefix: string }) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.path === opts.skipPrefix || req.path.startsWith(`${opts.skipPrefix}/`)) return next();
    const embed = req.path.startsWith('/embed/');
    res.set({
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': embed ? EMBED_CSP : PAGE_CSP,
      // Another site's window cannot keep a handle on ours (and read its location or navigate it).
      'Cross-Origin-Opener-Policy': 'same-origin',
      // Another site cannot load our responses as images/scripts; the embed page may be framed anywhere.
      'Cross-Origin-Resource-Policy': embed ? 'cross-origin' : 'same-origin',
      'Permissions-Policy': PERMISSIONS_POLICY,
    });
    if (!embed) res.set('X-Frame-Options', 'DENY');
    next();
  };
}
