import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { LabSummary } from '../../protocol/api.js';
import { MAX_SEATS, type CreateWorkshopRequest, type CreateWorkshopResponse } from '../../protocol/workshops.js';
import { ApiRequestError, errorText, listLabs } from '../api.js';
import { copyText } from '../clipboard.js';
import { buttonStyles, pageStyles } from '../components/shared-styles.js';
import type { Route } from '../routes.js';
import { createWorkshop } from '../workshop-api.js';

const TWO_HOURS = 2 * 3600_000;

/** A datetime-local input's value for an epoch time, in the browser's time zone. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/**
 * /workshops/new: the instructor picks labs, a title, seats and a time, and gets the join code and
 * the three links (the instructor's, with its secret, shown once).
 */
@customElement('tl-workshop-new-page')
export class TlWorkshopNewPage extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    form { max-width: 40rem; }
    fieldset { border: 1px solid var(--tl-border); border-radius: var(--tl-radius-sm); margin: 0 0 1rem; padding: 0.75rem 1rem; }
    legend { font-size: 0.875rem; font-weight: 600; padding: 0 0.25rem; }
    .check { display: flex; align-items: baseline; gap: 0.5rem; padding: 0.25rem 0; font-size: 0.9375rem; }
    .times { display: flex; gap: 1rem; flex-wrap: wrap; margin-top: 0.5rem; }
    .code { font-family: var(--tl-mono); font-size: 3rem; font-weight: 700; letter-spacing: 0.2em; margin: 0.25rem 0 1rem; }
    .link { display: flex; gap: 0.5rem; align-items: center; margin: 0 0 0.75rem; flex-wrap: wrap; }
    .link input { flex: 1 1 24rem; font-family: var(--tl-mono); font-size: 0.8125rem; }
    .link span { width: 7rem; font-weight: 600; font-size: 0.875rem; }
    .warn { color: var(--tl-warn); font-weight: 600; }
    a.open {
      display: inline-flex; align-items: center; min-height: 2.25rem; padding: 0 1rem; border-radius: var(--tl-radius-sm);
      background: var(--tl-primary); border: 1px solid var(--tl-primary-border); color: #fff; font-weight: 600; text-decoration: none;
    }
  `];

  @property({ attribute: false }) route: Route | undefined;

  @state() private labs: LabSummary[] = [];
  @state() private labsError = '';
  @state() private picked: string[] = [];
  @state() private now = true;
  @state() private needsAdmin = false;
  @state() private busy = false;
  @state() private error = '';
  @state() private created: CreateWorkshopResponse | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    document.title = 'New workshop · termlab';
    void this.loadLabs();
  }

  private async loadLabs(): Promise<void> {
    try {
      this.labs = (await listLabs()).labs;
      this.labsError = '';
    } catch (err) {
      this.labsError = `The labs could not be loaded: ${errorText(err)}. Reload the page to try again.`;
    }
  }

  private toggleLab(id: string, on: boolean): void {
    // Kept in the list's order, which is the order the room does them.
    const set = new Set(this.picked);
    if (on) set.add(id); else set.delete(id);
    this.picked = this.labs.map((l) => l.id).filter((l) => set.has(l));
  }

  private field(name: string): string {
    return (this.renderRoot.querySelector<HTMLInputElement>(`[name=${name}]`)?.value ?? '').trim();
  }

  private request(): CreateWorkshopRequest | string {
    const title = this.field('title');
    const seats = Number(this.field('seats'));
    if (this.picked.length === 0) return 'Pick at least one lab.';
    if (!title) return 'Give the workshop a title (learners see it when they join).';
    if (!Number.isInteger(seats) || seats < 1 || seats > MAX_SEATS) return `Seats: a whole number from 1 to ${MAX_SEATS}.`;
    const body: CreateWorkshopRequest = { title, labs: this.picked, seats };
    if (this.now) {
      body.startsAt = Date.now();
      body.endsAt = body.startsAt + TWO_HOURS;
    } else {
      const startsAt = new Date(this.field('startsAt')).getTime();
      const endsAt = new Date(this.field('endsAt')).getTime();
      if (!Number.isFinite(startsAt) || !Number.isFinite(endsAt)) return 'Give a start and an end time, or choose "now, for 2 hours".';
      if (endsAt <= startsAt) return 'The end must come after the start.';
      Object.assign(body, { startsAt, endsAt });
    }
    return body;
  }

  private async submit(ev: SubmitEvent): Promise<void> {
    ev.preventDefault();
    const body = this.request();
    if (typeof body === 'string') {
      this.error = body;
      return;
    }
    this.busy = true;
    this.error = '';
    try {
      this.created = await createWorkshop(body, this.field('adminToken') || undefined);
    } catch (err) {
      if (err instanceof ApiRequestError && (err.status === 401 || err.status === 403) && !this.needsAdmin) {
        this.needsAdmin = true;
        this.error = 'This server needs its admin token to create workshops: ask the operator for it, enter it below and press Create again.';
      } else {
        this.error = `The workshop was not created: ${errorText(err)}`;
      }
    } finally {
      this.busy = false;
    }
  }

  protected override render() {
    return html`<main class="list"><div class="list-inner">
      ${this.created ? this.renderCreated(this.created) : this.renderForm()}
    </div></main>`;
  }

  private renderForm() {
    return html`
      <div class="intro"><h1>New workshop</h1>
        <p>Run a live session: learners join with a short code, you watch the room's progress and can look over a shoulder.</p></div>
      <form @submit=${this.submit} novalidate>
        <label class="field">Title <input name="title" data-testid="ws-title" required maxlength="120" placeholder="Docker basics, Tuesday group"></label>
        ${this.renderLabs()}
        <label class="field">Seats <span class="help">How many learners (1 to ${MAX_SEATS}); a box is warmed up for each before the start.</span>
          <input name="seats" data-testid="ws-seats" type="number" min="1" max=${MAX_SEATS} value="30" style="width: 7rem"></label>
        ${this.renderTimes()}
        ${this.needsAdmin ? html`<label class="field">Admin token <span class="help">Set by the operator of this server (TERMLAB_ADMIN_TOKEN).</span>
            <input name="adminToken" data-testid="ws-admin-token" type="password" autocomplete="off"></label>` : nothing}
        ${this.error ? html`<p class="error" role="alert" data-testid="ws-error">${this.error}</p>` : nothing}
        <button class="primary" data-testid="ws-create" ?disabled=${this.busy}>
          ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>Creating…` : 'Create workshop'}</button>
      </form>`;
  }

  private renderLabs() {
    return html`<fieldset><legend>Labs</legend>
      ${this.labsError ? html`<p class="error" role="alert">${this.labsError}</p>` : nothing}
      ${this.labs.map((lab) => html`<label class="check">
        <input type="checkbox" data-testid="ws-lab-${lab.id}" .checked=${this.picked.includes(lab.id)}
               @change=${(ev: Event) => this.toggleLab(lab.id, (ev.target as HTMLInputElement).checked)}>
        <span>${lab.title} <span class="muted">(${lab.profile}, ${lab.steps} steps)</span></span></label>`)}
    </fieldset>`;
  }

  private renderTimes() {
    const start = Date.now() + 3600_000;
    return html`<fieldset><legend>When</legend>
      <label class="check"><input type="radio" name="when" data-testid="ws-now" .checked=${this.now} @change=${() => { this.now = true; }}>
        Now, for 2 hours</label>
      <label class="check"><input type="radio" name="when" data-testid="ws-later" .checked=${!this.now} @change=${() => { this.now = false; }}>
        At a time</label>
      ${this.now ? nothing : html`<div class="times">
        <label class="field">Starts <input name="startsAt" type="datetime-local" value=${localInput(start)}></label>
        <label class="field">Ends <input name="endsAt" type="datetime-local" value=${localInput(start + TWO_HOURS)}></label></div>`}
    </fieldset>`;
  }

  private renderCreated(created: CreateWorkshopResponse) {
    const abs = (url: string) => new URL(url, location.origin).href;
    return html`
      <div class="intro"><h1>Workshop created</h1><p>Show the code to the room: learners type it on the home page, or open the learner link.</p></div>
      <div class="card">
        <div class="muted">Join code</div>
        <div class="code" data-testid="ws-code">${created.code}</div>
        ${this.renderLink('Learners', abs(created.learnerUrl), 'ws-learner-link')}
        ${this.renderLink('Instructor', abs(created.instructorUrl), 'ws-instructor-link')}
        ${this.renderLink('Assistants', abs(created.assistantUrl), 'ws-assistant-link')}
        <p class="warn" role="note">The instructor link is shown once: open it now (it opens your dashboard), or keep it somewhere safe.
          The assistant link lets a helper view learners' terminals, without control, reset or end.</p>
        <a class="open" href=${created.instructorUrl} data-testid="ws-open-dashboard">Open the dashboard</a>
      </div>`;
  }

  private renderLink(label: string, url: string, testid: string) {
    return html`<div class="link"><span>${label}</span>
      <input readonly .value=${url} data-testid=${testid} @focus=${(ev: Event) => (ev.target as HTMLInputElement).select()}>
      <button class="small" @click=${() => void copyText(url, this.renderRoot)}>Copy</button></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-workshop-new-page': TlWorkshopNewPage }
}
