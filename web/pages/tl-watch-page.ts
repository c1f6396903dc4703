import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { Route } from '../routes.js';
import { pageStyles } from '../components/shared-styles.js';
import { playbackFromQuery } from '../components/tl-watch.js';
import '../components/tl-watch.js';

/** A shared recording: /watch/<share> (a page) or /embed/<share> (the bare, frameable player). */
@customElement('tl-watch-page')
export class TlWatchPage extends LitElement {
  static override styles = pageStyles;

  @property({ attribute: false }) route: Route | undefined;

  protected override render() {
    const route = this.route;
    if (route?.page !== 'watch' && route?.page !== 'embed') return html``;
    const playback = playbackFromQuery(location.search);
    return route.page === 'embed'
      ? html`<tl-watch embed .share=${route.share} .playback=${playback}></tl-watch>`
      : html`<main class="list"><tl-watch .share=${route.share} .playback=${playback}></tl-watch></main>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-watch-page': TlWatchPage }
}
