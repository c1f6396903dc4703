// The dashboard's live feed: an EventSource on /api/workshops/:id/events, held while the host is in
// the document. A dropped connection is resumed by the browser itself, which sends Last-Event-ID:
// the server replays what was missed (or a fresh `state`), and room-state.ts applies it idempotently.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { WorkshopEvent } from '../../protocol/workshops.js';
import { applyWorkshopEvent, type RoomState } from '../lab/room-state.js';
import { workshopUrls } from '../workshop-api.js';

export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'closed';

const EVENT_TYPES = ['message', 'state', 'seat', 'workshop', 'broadcast'];

export class WorkshopEventsController implements ReactiveController {
  room: RoomState | undefined;
  feed: FeedState = 'connecting';
  /** Id of the last event applied (what Last-Event-ID resumes from). */
  lastEventId = '';
  private source: EventSource | undefined;
  private id = '';

  constructor(private readonly host: ReactiveControllerHost, private readonly onEvent?: (event: WorkshopEvent) => void) {
    host.addController(this);
  }

  /** Follows this workshop (a different id starts over). */
  follow(id: string): void {
    if (id === this.id) return;
    this.id = id;
    this.room = undefined;
    this.open();
  }

  hostConnected(): void {
    if (this.id && !this.source) this.open();
  }

  hostDisconnected(): void {
    this.source?.close();
    this.source = undefined;
  }

  private readonly onMessage = (ev: MessageEvent): void => {
    let event: WorkshopEvent;
    try {
      event = JSON.parse(ev.data as string) as WorkshopEvent;
    } catch {
      return;
    }
    if (ev.lastEventId) this.lastEventId = ev.lastEventId;
    this.room = applyWorkshopEvent(this.room, event);
    this.feed = 'live';
    this.onEvent?.(event);
    this.host.requestUpdate();
  };

  private open(): void {
    this.source?.close();
    const source = new EventSource(workshopUrls.events(this.id));
    this.source = source;
    this.feed = 'connecting';
    for (const type of EVENT_TYPES) source.addEventListener(type, this.onMessage as EventListener);
    source.onopen = () => {
      this.feed = 'live';
      this.host.requestUpdate();
    };
    source.onerror = () => {
      // CONNECTING: the browser retries by itself. CLOSED: refused (no access, or no such workshop).
      this.feed = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
      this.host.requestUpdate();
    };
  }
}
