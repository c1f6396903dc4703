// What app.js leaves out: each import() here is a chunk esbuild splits off (scripts/build-web.mjs),
// fetched the first time it is needed. app.js holds what the lab list needs (the header, the lab
// list, the join box); the lab page brings xterm.js and the guide's Markdown, the player brings
// asciinema-player, and the other pages come when opened. Their users render an element only once
// its chunk has defined it: an element made before would get its properties only at its first
// update, after its controllers (the session channel, the route) connected without them.
import type { PageName } from './routes.js';

/** Waits before each new try of a chunk whose fetch failed. */
const RETRY_DELAYS_MS = [250, 1000];

/**
 * `load`, tried again when the fetch fails: a chunk fetched as a box starts is often aborted by the
 * browser (Chromium drops what is loading whenever a network interface comes or goes, and every
 * box brings a bridge on the server's host, where an operator's own browser may be), and a flaky
 * network does the same. Browsers fetch a module again on a new import() after a failed one.
 */
function retrying<T>(load: () => Promise<T>): () => Promise<T> {
  return async () => {
    for (const delay of RETRY_DELAYS_MS) {
      try {
        return await load();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    return load();
  };
}

/**
 * The chunk defining each page's element (web/routes.ts names the element). The lab list is in
 * app.js (tl-app imports it), so it has nothing to fetch.
 */
export const pageChunks: Record<PageName, () => Promise<unknown>> = {
  labs: () => Promise.resolve(),
  recordings: retrying(() => import('./pages/tl-recordings-page.js')),
  watch: retrying(() => import('./pages/tl-watch-page.js')),
  embed: retrying(() => import('./pages/tl-watch-page.js')),
  'workshop-new': retrying(() => import('./pages/tl-workshop-new-page.js')),
  'workshop-join': retrying(() => import('./pages/tl-join-page.js')),
  'workshop-dashboard': retrying(() => import('./pages/tl-dashboard-page.js')),
  'workshop-report': retrying(() => import('./pages/tl-report-page.js')),
  progress: retrying(() => import('./pages/tl-progress-page.js')),
  completion: retrying(() => import('./pages/tl-completion-page.js')),
};

/** `<tl-lab-page>`: the running lab (terminal, guide). */
export const loadLabPage = retrying(() => import('./pages/tl-lab-page.js'));

/** `<tl-player>`: asciinema-player and its CSS. */
export const loadPlayer = retrying(() => import('./components/tl-player.js'));
