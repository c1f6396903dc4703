// The route table: which page an address names. Pages of the app are real paths (the server serves
// index.html there), except the Recordings view, kept at /#/recordings.
export type Route =
  | { page: 'watch' | 'embed'; share: string }
  | { page: 'recordings' }
  | { page: 'labs' }
  | { page: 'progress' }
  | { page: 'completion'; token: string }
  | { page: 'workshop-new' }
  | { page: 'workshop-join'; code: string }
  | { page: 'workshop-dashboard'; id: string }
  | { page: 'workshop-report'; id: string };

export type PageName = Route['page'];

export const RECORDINGS_HREF = '/#/recordings';

/** Path patterns, tried in order; the first group (if any) is the route's parameter. */
const TABLE: Array<{ pattern: RegExp; route: (param: string) => Route }> = [
  { pattern: /^\/watch\/([^/]+)\/?$/, route: (share) => ({ page: 'watch', share }) },
  { pattern: /^\/embed\/([^/]+)\/?$/, route: (share) => ({ page: 'embed', share }) },
  { pattern: /^\/workshops\/new\/?$/, route: () => ({ page: 'workshop-new' }) },
  { pattern: /^\/workshops\/([^/]+)\/report\/?$/, route: (id) => ({ page: 'workshop-report', id }) },
  { pattern: /^\/workshops\/([^/]+)\/?$/, route: (id) => ({ page: 'workshop-dashboard', id }) },
  { pattern: /^\/w\/([^/]+)\/?$/, route: (code) => ({ page: 'workshop-join', code: code.toUpperCase() }) },
  { pattern: /^\/progress\/?$/, route: () => ({ page: 'progress' }) },
  { pattern: /^\/completions\/([^/]+)\/?$/, route: (token) => ({ page: 'completion', token }) },
];

export function routeOf(loc: { pathname: string; hash: string }): Route {
  for (const { pattern, route } of TABLE) {
    const match = pattern.exec(loc.pathname);
    if (!match) continue;
    try {
      return route(decodeURIComponent(match[1] ?? ''));
    } catch { /* a malformed escape: not this route */ }
  }
  return loc.hash === '#/recordings' ? { page: 'recordings' } : { page: 'labs' };
}

/** The route table's other half: the element that shows each page (it takes the route as `.route`). */
const PAGES: Record<PageName, string> = {
  labs: 'tl-home-page',
  recordings: 'tl-recordings-page',
  watch: 'tl-watch-page',
  embed: 'tl-watch-page',
  'workshop-new': 'tl-workshop-new-page',
  'workshop-join': 'tl-join-page',
  'workshop-dashboard': 'tl-dashboard-page',
  'workshop-report': 'tl-report-page',
  progress: 'tl-progress-page',
  completion: 'tl-completion-page',
};

export function pageOf(route: Route): { tag: string } {
  return { tag: PAGES[route.page] };
}

/** Paths of the app's pages, for links. */
export const paths = {
  labs: () => '/',
  progress: () => '/progress',
  workshopNew: () => '/workshops/new',
  join: (code: string) => `/w/${encodeURIComponent(code)}`,
  dashboard: (id: string) => `/workshops/${encodeURIComponent(id)}`,
  report: (id: string) => `/workshops/${encodeURIComponent(id)}/report`,
};

/** Goes to another page of the app as a new history entry (the RouteController hears it). */
export function navigate(href: string): void {
  history.pushState(null, '', href);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** A click on an in-app link: navigates without reloading, unless the person asked for a new tab. */
export function onLinkClick(ev: MouseEvent, href: string): void {
  if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(href);
}
