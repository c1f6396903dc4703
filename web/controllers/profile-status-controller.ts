// Which sandbox profiles are still being prepared after the server started (a first run builds the
// images in the background): GET /api/profiles while the host is in the document, again
// every few seconds only while something is preparing, so cards update without a reload and a
// server whose profiles are all ready is asked once.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { SandboxProfile } from '../../protocol/api.js';
import type { ProfileStatus } from '../../protocol/preparation.js';
import { getProfileStatus } from '../api.js';

export class ProfileStatusController implements ReactiveController {
  private profiles: Partial<Record<SandboxProfile, ProfileStatus>> = {};
  private timer: ReturnType<typeof setTimeout> | undefined;
  private loading: AbortController | undefined;

  constructor(private readonly host: ReactiveControllerHost, private readonly everyMs = 5000) {
    host.addController(this);
  }

  /** The profile's state when it is not plainly ready (undefined: ready, or never prepared late). */
  status(profile: SandboxProfile): ProfileStatus | undefined {
    const status = this.profiles[profile];
    return status?.state === 'ready' ? undefined : status;
  }

  /** Asks again now (a start was refused because the profile is not ready). */
  refresh(): void {
    clearTimeout(this.timer);
    void this.load();
  }

  hostConnected(): void {
    void this.load();
  }

  hostDisconnected(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.loading?.abort();
    this.loading = undefined;
  }

  private async load(): Promise<void> {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    try {
      this.profiles = (await getProfileStatus(loading.signal)).profiles;
      this.host.requestUpdate();
    } catch {
      // A server that is restarting answers at the next poll; the cards keep what they showed.
      if (loading.signal.aborted) return;
    }
    if (this.loading !== loading) return;
    this.loading = undefined;
    const preparing = Object.values(this.profiles).some((s) => s.state === 'preparing');
    if (preparing) this.timer = setTimeout(() => void this.load(), this.everyMs);
  }
}
