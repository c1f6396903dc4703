import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { MAX_DISPLAY_NAME, type JoinResponse, type WorkshopJoinInfo } from '../../protocol/workshops.js';
import { ApiRequestError, errorText } from '../api.js';
import { ClockController, formatTimeLeft } from '../controllers/clock-controller.js';
import { buttonStyles, pageStyles } from '../components/shared-styles.js';
import { navigate, type Route } from '../routes.js';
import { saveSession } from '../session-store.js';
import { getJoinInfo, joinWorkshop } from '../workshop-api.js';

const NAME_KEY = 'termlab.workshopName';

function savedName(): string {
  try { return localStorage.getItem(NAME_KEY) ?? ''; } catch { return ''; }
}

/**
 * /w/CODE: a learner gives a display name and takes a seat; the lab opens at once (their box is
 * warm). A browser that already holds a seat goes straight back to it. Says plainly what the
 * instructor can see; a full, not yet open or ended workshop says so.
 */
@customElement('tl-join-page')
export class TlJoinPage extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    .list-inner { max-width: 36rem; }
    .privacy { border-left: 3px solid var(--tl-warn); padding-left: 0.75rem; }
    .big { font-size: 1.25rem; font-weight: 700; }
    form { display: flex; gap: 0.5rem; align-items: flex-end; flex-wrap: wrap; }
    form label.field { flex: 1 1 14rem; margin: 0; }
  `];

  @property({ attribute: false }) route: Route | undefined;

  @state() private info: WorkshopJoinInfo | undefined;
  @state() private loadError = '';
  @state() private busy = false;
  @state() private error = '';

  private readonly clock = new ClockController(this);
  private loadedCode = '';
  private loading = false;

  private get code(): string {
    return this.route?.page === 'workshop-join' ? this.route.code : '';
  }

  protected override willUpdate(): void {
    if (this.code && this.code !== this.loadedCode) {
      this.loadedCode = this.code;
      void this.load();
    }
  }

  /** A countdown that reached the start asks again (once at a time): the form appears when the server opens it. */
  protected override updated(): void {
    const info = this.info;
    if (info?.phase === 'scheduled' && info.startsAt <= this.clock.now && !this.loading) void this.load();
  }

  private async load(): Promise<void> {
    const code = this.code;
    this.loading = true;
    try {
      const info = await getJoinInfo(code);
      if (code !== this.code) {
        this.loading = false;
        return;
      }
      this.info = info;
      this.loadError = '';
      // Not open yet although the start has passed (the server opens it in a moment): ask again in a few seconds.
      if (info.phase === 'scheduled' && info.startsAt <= Date.now()) setTimeout(() => { this.loading = false; }, 3000);
      else this.loading = false;
      document.title = `${info.title} · termlab`;
      if (info.mySeat && info.phase === 'open') await this.join(savedName() || 'learner');
    } catch (err) {
      this.loading = false;
      this.loadError = err instanceof ApiRequestError && err.status === 404
        ? `There is no workshop with the code ${code}. Check the code with your instructor (letters and digits, no 0/O or 1/I).`
        : `The workshop could not be loaded: ${errorText(err)}`;
    }
  }

  private async join(name: string): Promise<void> {
    const info = this.info;
    if (!info) return;
    this.busy = true;
    this.error = '';
    try {
      const joined = await joinWorkshop(info.code, name);
      try { localStorage.setItem(NAME_KEY, joined.name); } catch { /* storage disabled */ }
      this.enterLab(info, joined);
    } catch (err) {
      this.error = `You could not join: ${errorText(err)}`;
      void getJoinInfo(info.code).then((fresh) => { this.info = fresh; }).catch(() => undefined);
    } finally {
      this.busy = false;
    }
  }

  private enterLab(info: WorkshopJoinInfo, joined: JoinResponse): void {
    const { session } = joined;
    const lab = info.labs.find((l) => l.id === session.lab);
    saveSession({
      id: session.id, token: session.token, lab: session.lab, title: lab?.title ?? session.lab, expiresAt: session.expiresAt,
      terminals: session.terminals.length > 0 ? session.terminals : undefined,
      workshop: { code: info.code, seat: joined.seat, name: joined.name },
    });
    navigate('/');
  }

  private submit(ev: SubmitEvent): void {
    ev.preventDefault();
    const name = (this.renderRoot.querySelector<HTMLInputElement>('input[name=name]')?.value ?? '').trim();
    if (!name) {
      this.error = 'Type the name the instructor will see next to your progress.';
      return;
    }
    void this.join(name);
  }

  protected override render() {
    return html`<main class="list"><div class="list-inner">
      ${this.loadError ? html`<p class="error" role="alert" data-testid="join-error">${this.loadError}</p>`
        : this.info ? this.renderInfo(this.info)
        : html`<p class="muted"><span class="spinner" aria-hidden="true"></span> Loading the workshop…</p>`}
    </div></main>`;
  }

  private renderInfo(info: WorkshopJoinInfo) {
    return html`
      <div class="intro"><h1 data-testid="join-title">${info.title}</h1>
        <p>Workshop ${info.code} · ${info.labs.map((l) => l.title).join(', ')}</p></div>
      <div class="card" data-testid="join-state" data-phase=${info.phase}>${this.renderState(info)}</div>
      <p class="privacy muted" data-testid="join-privacy">During the workshop the instructor (and their assistants) can see your progress
        in the lab and view your terminal as you work. They can type in it only if you allow it, and you can take it back at any time.</p>`;
  }

  private renderState(info: WorkshopJoinInfo) {
    if (info.phase === 'ended') return html`<p class="big" data-testid="join-ended">This workshop has ended.</p>`;
    if (info.phase === 'scheduled') {
      const left = info.startsAt - this.clock.now;
      return html`<p class="big">Not open yet.</p>
        <p data-testid="join-countdown">Opens in <strong>${formatTimeLeft(left)}</strong>
          (${new Date(info.startsAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}).</p>`;
    }
    if (info.mySeat) return html`<p><span class="spinner" aria-hidden="true"></span> Taking you back to your seat…</p>${this.renderError()}`;
    if (info.taken >= info.seats) return html`<p class="big" data-testid="join-full">Full (${info.taken}/${info.seats}).</p>
      <p class="muted">Every seat is taken: ask your instructor.</p>`;
    return html`<form @submit=${this.submit}>
        <label class="field">Your name <span class="help">As the instructor will see it.</span>
          <input name="name" data-testid="join-name" maxlength=${MAX_DISPLAY_NAME} autocomplete="name" .value=${savedName()} required></label>
        <button class="primary" data-testid="join-go" ?disabled=${this.busy}>
          ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>Joining…` : 'Join'}</button>
      </form>
      <p class="muted">${info.taken}/${info.seats} seats taken · ends ${new Date(info.endsAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</p>
      ${this.renderError()}`;
  }

  private renderError() {
    return this.error ? html`<p class="error" role="alert" data-testid="join-error">${this.error}</p>` : nothing;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-join-page': TlJoinPage }
}
