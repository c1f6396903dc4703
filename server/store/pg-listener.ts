// PostgreSQL LISTEN for one server: a dedicated client (a pooled one would be handed to queries and
// lose its LISTENs when recycled). When the connection drops (the database restarts, a proxy cuts
// idle links, an operator ends the backend) it is made again with a growing delay, every channel is
// listened to again, and every listener is told to resync: notifications sent meanwhile are lost.
import pg from 'pg';
import { checkNotify, type NotifyListener } from './database.js';

/** The first retry after a drop, doubled up to the last. */
const RETRY_MS = [100, 200, 500, 1000, 2000, 5000];
/** Seen in pg_stat_activity, so an operator knows what the long-lived connection is. */
const APPLICATION_NAME = 'termlab-listen';

export class PgListener {
  private readonly channels = new Map<string, Set<NotifyListener>>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(private readonly url: string, private readonly onError: (err: Error) => void = () => {}) {}

  async listen(channel: string, listener: NotifyListener): Promise<() => void> {
    checkNotify(channel);
    if (this.closed) throw new Error('the database is closed');
    let set = this.channels.get(channel);
    const fresh = !set;
    if (!set) this.channels.set(channel, set = new Set());
    set.add(listener);
    try {
      const client = await this.connected();
      if (fresh && client === this.client) await client.query(`LISTEN ${channel}`);
    } catch (err) {
      set.delete(listener);
      if (set.size === 0) this.channels.delete(channel);
      throw err;
    }
    return () => {
      if (!set.delete(listener) || set.size > 0 || this.channels.get(channel) !== set) return;
      this.channels.delete(channel);
      void this.client?.query(`UNLISTEN ${channel}`).catch(() => {});
    };
  }

  /** The live client, connecting (and listening to every channel) when there is none. */
  private connected(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    return this.connecting ??= this.connect().finally(() => { this.connecting = undefined; });
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: APPLICATION_NAME });
    // Until connected, an error rejects connect(); after, it is a drop.
    client.on('error', (err) => this.dropped(client, err));
    client.on('end', () => this.dropped(client, new Error('the LISTEN connection ended')));
    client.on('notification', (n) => {
      for (const l of this.channels.get(n.channel) ?? []) {
        try {
          l.onNotify(n.payload ?? '');
        } catch (err) {
          this.onError(err as Error);
        }
      }
    });
    try {
      await client.connect();
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${channel}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      throw new Error('the database is closed');
    }
    this.client = client;
    this.failures = 0;
    return client;
  }

  private dropped(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => {});
    if (this.closed) return;
    this.onError(err);
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.retry || this.closed) return;
    const wait = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)]!;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connected().then(() => {
        // Whatever was sent while no connection listened is lost: listeners read what they missed.
        for (const set of this.channels.values()) for (const l of set) l.onResync?.();
      }, (err: Error) => {
        this.failures++;
        this.onError(err);
        this.reconnectLater();
      });
    }, wait);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client ?? await this.connecting?.catch(() => undefined);
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }
}
