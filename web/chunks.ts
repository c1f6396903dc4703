// What app.js leaves out: each import() here is a chunk esbuild splits off (scripts/build-web.mjs),
// fetched the first time it is needed. app.js holds what the lab list needs (the header, the lab
// list, the join box); the lab page brings xterm.js and the guide's Markdown, the player brings
// asciinema-player, and the other pages come when opened. Their users render an element only once
// its chunk has defined it: an element made before would get its properties only at its first
// update, after its controllers (the session channel, the route) connected without them.
import type { PageName } from './routes.js';

/**
 * The chunk defining each page's element (web/routes.ts names the element). The lab list is in
 * app.js (tl-app imports it), so it has nothing to fetch.
 */
export const pageChunks: Record<PageName, () => Promise<unknown>> = {
  labs: () => Promise.resolve(),
  recordings: () => import('./pages/tl-recordings-page.js'),
  watch: () => import('./pages/tl-watch-page.js'),
  embed: () => import('./pages/tl-watch-page.js'),
  'workshop-new': () => import('./pages/tl-workshop-new-page.js'),
  'workshop-join': () => import('./pages/tl-join-page.js'),
  'workshop-dashboard': () => import('./pages/tl-dashboard-page.js'),
  'workshop-report': () => import('./pages/tl-report-page.js'),
};

/** `<tl-lab-page>`: the running lab (terminal, guide). */
export const loadLabPage = () => import('./pages/tl-lab-page.js');

/** `<tl-player>`: asciinema-player and its CSS. */
export const loadPlayer = () => import('./components/tl-player.js');
