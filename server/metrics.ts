// Prometheus metrics for operators, served at /metrics: what runs now, what started, how long
// boxes take to start, and how checks go.
import client from 'prom-client';

export class Metrics {
  readonly registry = new client.Registry();
  readonly sessionsStarted = new client.Counter({ name: 'termlab_sessions_started_total', help: 'Sessions started', labelNames: ['lab', 'pooled'] as const, registers: [this.registry] });
  readonly sessionsEnded = new client.Counter({ name: 'termlab_sessions_ended_total', help: 'Sessions ended, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly boxStartSeconds = new client.Histogram({
    name: 'termlab_session_start_seconds', help: 'Time to create a session\'s boxes', labelNames: ['profile', 'pooled'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry],
  });
  readonly checks = new client.Counter({ name: 'termlab_checks_total', help: 'Step checks run', labelNames: ['result', 'source'] as const, registers: [this.registry] });
  /** "Continue from step N": a box handed back (`live`), a fresh box replaying (`replay`), or refused. */
  readonly resumes = new client.Counter({ name: 'termlab_resumes_total', help: 'Resumed lab attempts, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly boxFailures = new client.Counter({ name: 'termlab_box_failures_total', help: 'Boxes that could not be created', labelNames: ['profile'] as const, registers: [this.registry] });

  /** From a workshop event being stored to a dashboard's stream being handed it. */
  readonly workshopEventDelay = new client.Histogram({
    name: 'termlab_workshop_event_delay_seconds', help: 'Delay from a workshop event to a dashboard',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2], registers: [this.registry],
  });

  /** Workshops' gauges, read at scrape time: seats by state, warm boxes held for workshops, terminal viewers. */
  watchWorkshops(read: () => { seats: Record<string, number>; reserved: number; viewers: number }): void {
    new client.Gauge({
      name: 'termlab_workshop_seats', help: 'Seats of running workshops, by state', labelNames: ['state'] as const, registers: [this.registry],
      collect() { for (const [state, n] of Object.entries(read().seats)) this.set({ state }, n); },
    });
    new client.Gauge({ name: 'termlab_workshop_reserved_boxes', help: 'Boxes pre-started for workshops', registers: [this.registry], collect() { this.set(read().reserved); } });
    new client.Gauge({ name: 'termlab_workshop_viewers', help: 'Read-only views of seated terminals', registers: [this.registry], collect() { this.set(read().viewers); } });
  }

  constructor(gauges: { sessions: () => number; pooled: () => Record<string, number>; recordings: () => number }) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'termlab_process_' });
    new client.Gauge({ name: 'termlab_sessions', help: 'Live sessions', registers: [this.registry], collect() { this.set(gauges.sessions()); } });
    new client.Gauge({ name: 'termlab_recordings_running', help: 'Recordings being written', registers: [this.registry], collect() { this.set(gauges.recordings()); } });
    new client.Gauge({
      name: 'termlab_pool_boxes', help: 'Pre-started boxes ready', labelNames: ['profile'] as const, registers: [this.registry],
      collect() { for (const [profile, n] of Object.entries(gauges.pooled())) this.set({ profile }, n); },
    });
  }
}
