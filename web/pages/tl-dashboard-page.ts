import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { WorkshopState } from '../../protocol/workshops.js';
import { errorText } from '../api.js';
import { ClockController, formatTimeLeft } from '../controllers/clock-controller.js';
import { WorkshopEventsController } from '../controllers/workshop-events-controller.js';
import type { RoomState } from '../lab/room-state.js';
import { buttonStyles, pageStyles } from '../components/shared-styles.js';
import type { SeatActionDetail } from '../components/tl-room-grid.js';
import type { Route } from '../routes.js';
import { workshopActions } from '../workshop-api.js';
import '../components/tl-room-actions.js';
import '../components/tl-room-grid.js';
import '../components/tl-shadow-view.js';

const FEED_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Disconnected' };

/**
 * /workshops/:id: the instructor's (or an assistant's) dashboard. Live from the workshop's event
 * stream: counters, a seat × step grid per lab, the room's actions, and a learner's terminal
 * (read-only, or typed into with their consent) beside it.
 */
@customElement('tl-dashboard-page')
export class TlDashboardPage extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    .list-inner { max-width: 1400px; }
    .head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.5rem 1.5rem; margin-bottom: 1rem; }
    .head h1 { margin: 0; font-size: 1.5rem; }
    .code { font-family: var(--tl-mono); font-weight: 700; letter-spacing: 0.12em; font-size: 1.25rem; }
    .feed { font-size: 0.8125rem; color: var(--tl-muted); }
    .feed[data-state='live'] { color: var(--tl-ok); }
    .counters { display: flex; flex-wrap: wrap; gap: 0.75rem; margin: 0 0 1rem; }
    .counter { background: var(--tl-surface); border: 1px solid var(--tl-border); border-radius: var(--tl-radius-sm); padding: 0.5rem 0.875rem; }
    .counter strong { display: block; font-size: 1.375rem; font-variant-numeric: tabular-nums; }
    .counter span { font-size: 0.8125rem; color: var(--tl-muted); }
    h2 { font-size: 1.0625rem; margin: 1.25rem 0 0.5rem; }
    tl-shadow-view { margin: 1rem 0; }
    .broadcasts { font-size: 0.875rem; color: var(--tl-muted); }
  `];

  @property({ attribute: false }) route: Route | undefined;

  @state() private viewing: { seat: string; name: string } | undefined;
  @state() private error = '';

  private readonly clock = new ClockController(this);
  private readonly events = new WorkshopEventsController(this);

  protected override willUpdate(): void {
    if (this.route?.page === 'workshop-dashboard') this.events.follow(this.route.id);
  }

  protected override updated(): void {
    const title = this.events.room?.state.title;
    document.title = title ? `${title} · dashboard · termlab` : 'Workshop dashboard · termlab';
  }

  private onSeatAction(ev: CustomEvent<SeatActionDetail>): void {
    const { action, seat, name } = ev.detail;
    if (action === 'view') {
      this.viewing = { seat, name };
      return;
    }
    const state = this.events.room?.state;
    if (!state) return;
    this.error = '';
    workshopActions.reset(state.id, seat).catch((err: unknown) => {
      this.error = `Could not reset ${name}: ${errorText(err)}`;
    });
  }

  protected override render() {
    const room = this.events.room;
    return html`<main class="list"><div class="list-inner">
      ${room ? this.renderRoom(room) : this.renderWaiting()}
    </div></main>`;
  }

  private renderWaiting() {
    if (this.events.feed === 'closed') {
      return html`<p class="error" role="alert" data-testid="dashboard-error">This dashboard could not connect. Open the instructor
        or assistant link of this workshop again in this browser (it signs you in), then reload this page.</p>`;
    }
    return html`<p class="muted"><span class="spinner" aria-hidden="true"></span> Connecting to the workshop…</p>`;
  }

  private renderRoom(room: RoomState) {
    const state = room.state;
    const rows = [...room.rows.values()];
    return html`
      <div class="head">
        <h1 data-testid="dashboard-title">${state.title}</h1>
        <span>Code <span class="code" data-testid="dashboard-code">${state.code}</span></span>
        <span class="feed" data-testid="feed" data-state=${this.events.feed}>${FEED_TEXT[this.events.feed]}</span>
        <span class="muted">${state.role === 'assistant' ? 'Assistant' : 'Instructor'}</span>
      </div>
      ${this.renderCounters(state, rows.length, rows.filter((r) => r.hand).length)}
      <tl-room-actions .state=${state}></tl-room-actions>
      ${room.broadcasts.size ? html`<p class="broadcasts" data-testid="broadcast-log">Sent: ${[...room.broadcasts.values()].at(-1)}</p>` : nothing}
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.viewing ? html`<tl-shadow-view .workshop=${state.id} .seat=${this.viewing.seat} .name=${this.viewing.name}
          .viewerRole=${state.role} @tl-view-close=${() => { this.viewing = undefined; }}></tl-shadow-view>` : nothing}
      ${state.labs.map((lab) => html`
        ${state.labs.length > 1 ? html`<h2>${lab.title}</h2>` : nothing}
        <tl-room-grid .lab=${lab.id} .steps=${lab.steps} .rows=${rows.filter((r) => r.lab === lab.id)} .viewerRole=${state.role}
                      .now=${this.clock.now} @tl-seat-action=${this.onSeatAction}></tl-room-grid>`)}`;
  }

  private renderCounters(state: WorkshopState, joined: number, hands: number) {
    const left = state.phase === 'ended' ? 'ended' : state.phase === 'scheduled'
      ? `opens in ${formatTimeLeft(state.startsAt - this.clock.now)}` : formatTimeLeft(state.endsAt - this.clock.now);
    return html`<div class="counters">
      <div class="counter" data-testid="count-joined" data-value=${joined}><strong>${joined}/${state.seats}</strong><span>joined</span></div>
      <div class="counter" data-testid="count-warm" data-value=${state.warm}><strong>${state.warm}</strong><span>warm boxes</span></div>
      <div class="counter" data-testid="count-hands" data-value=${hands}><strong>${hands}</strong><span>hands raised</span></div>
      <div class="counter" data-testid="time-left" data-ends-at=${state.endsAt} data-phase=${state.phase}><strong>${left}</strong><span>time left</span></div>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-dashboard-page': TlDashboardPage }
}
