import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { html as staticHtml, unsafeStatic } from 'lit/static-html.js';
import { RouteController } from '../controllers/route-controller.js';
import { RECORDINGS_HREF, onLinkClick, pageOf, paths, type PageName, type Route } from '../routes.js';
import { loadSession } from '../session-store.js';
import { errorText } from '../api.js';
import { pageChunks } from '../chunks.js';
// The lab list is the first page most people see: it is in app.js, the other pages are chunks.
import '../pages/tl-home-page.js';

/**
 * The whole page: the header (brand, Labs, Recordings, My progress) and the page the address names, from the
 * route table (web/routes.ts). Every page is its own element and takes `.route`; its chunk
 * (web/chunks.ts) is fetched when the route first names it, and the element made once it has arrived.
 * A page that changes the running lab fires `tl-session-change` so the header follows.
 */
@customElement('tl-app')
export class TlApp extends LitElement {
  static override styles = css`
    :host { display: flex; flex-direction: column; height: 100%; min-height: 0; }
    header {
      flex: none; display: flex; align-items: center; gap: 1rem; padding: 0.5rem 1.25rem; min-height: 3.5rem;
      box-sizing: border-box; border-bottom: 1px solid var(--tl-border); background: var(--tl-surface); flex-wrap: wrap;
    }
    .brand {
      display: flex; align-items: center; gap: 0.5rem; font-weight: 700; font-size: 1.0625rem; letter-spacing: -0.01em;
      color: var(--tl-text); text-decoration: none;
    }
    a:focus-visible { outline: 2px solid var(--tl-accent); outline-offset: 2px; border-radius: 4px; }
    .brand .logo {
      font-family: var(--tl-mono); font-size: 0.8125rem; padding: 0.125rem 0.375rem; border-radius: 5px;
      background: var(--tl-accent); color: #0d1117;
    }
    nav.links { display: flex; gap: 0.25rem; margin-left: auto; }
    nav.links a {
      padding: 0.375rem 0.625rem; border-radius: var(--tl-radius-sm); font-size: 0.875rem; font-weight: 500;
      color: var(--tl-muted); text-decoration: none;
    }
    nav.links a:hover, nav.links a[aria-current='page'] { color: var(--tl-text); background: var(--tl-surface-2); }
    .page { flex: 1 1 auto; min-height: 0; display: flex; flex-direction: column; }
    .load-error { margin: 2rem auto; max-width: 40rem; padding: 0 1.25rem; color: var(--tl-muted); }
  `;

  private readonly router = new RouteController(this);
  /** A page whose chunk could not be fetched (offline, or a server updated since this page loaded). */
  @state() private loadFailed: { page: PageName; message: string } | undefined;

  constructor() {
    super();
    this.addEventListener('tl-session-change', () => this.requestUpdate());
  }

  /** A page not yet defined: fetch its chunk, and render again once it is (see render). */
  protected override willUpdate(_changed: PropertyValues): void {
    const page = this.router.route.page;
    if (customElements.get(pageOf(this.router.route).tag)) return;
    pageChunks[page]().then(
      () => this.requestUpdate(),
      (err: unknown) => { this.loadFailed = { page, message: errorText(err) }; },
    );
  }

  protected override updated(): void {
    const page = this.router.route.page;
    if (page === 'labs') {
      const session = loadSession();
      document.title = session ? `${session.title} · termlab` : 'termlab';
    }
  }

  protected override render() {
    const route = this.router.route;
    const content = this.renderPage(route);
    return route.page === 'embed' ? content : html`${this.renderHeader(route)}${content}`;
  }

  /**
   * The page's element, only once its chunk has defined it: an element made before its definition
   * gets its properties (`.route`, `.session`) only at its first update, after its controllers
   * connected without them.
   */
  private renderPage(route: Route) {
    const { tag } = pageOf(route);
    if (this.loadFailed?.page === route.page) {
      return html`<p class="page load-error" role="alert">This page could not be loaded (${this.loadFailed.message}). Reload to try again.</p>`;
    }
    if (!customElements.get(tag)) return html`<div class="page" aria-busy="true"></div>`;
    const element = unsafeStatic(tag);
    return staticHtml`<${element} class="page" .route=${route}></${element}>`;
  }

  private renderHeader(route: Route) {
    return html`<header>
      <a class="brand" href="/" @click=${(ev: MouseEvent) => onLinkClick(ev, '/')}><span class="logo" aria-hidden="true">&gt;_</span>termlab</a>
      ${this.renderLinks(route)}
    </header>`;
  }

  /**
   * Labs, Recordings and My progress. During a lab, the other pages open in a new tab: the lab
   * keeps running here (this tab's session is in its sessionStorage, which a new tab does not share).
   */
  private renderLinks(route: Route) {
    const page = route.page;
    const inLab = page === 'labs' && loadSession() !== undefined;
    return html`<nav class="links" aria-label="Pages">
      ${inLab
        ? nothing
        : html`<a href="/" data-testid="nav-labs" aria-current=${page === 'labs' ? 'page' : nothing}
                  @click=${(ev: MouseEvent) => onLinkClick(ev, '/')}>Labs</a>`}
      ${this.renderLink(RECORDINGS_HREF, 'recordings', 'Recordings', 'Your recordings', page, inLab)}
      ${this.renderLink(paths.progress(), 'progress', 'My progress', 'The labs you did in this browser, and their proofs', page, inLab)}
    </nav>`;
  }

  private renderLink(href: string, target: PageName, label: string, title: string, page: PageName, inLab: boolean) {
    return html`<a href=${href} data-testid="nav-${target}" aria-current=${page === target ? 'page' : nothing}
       target=${inLab ? '_blank' : nothing} rel=${inLab ? 'noopener' : nothing}
       title=${inLab ? `${title} (opens in a new tab; the lab keeps running here)` : title}
       @click=${(ev: MouseEvent) => !inLab && onLinkClick(ev, href)}>${label}${inLab ? html`<span aria-hidden="true"> ↗</span>` : nothing}</a>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-app': TlApp;
  }
  interface HTMLElementEventMap {
    'tl-session-change': CustomEvent<undefined>;
  }
}
