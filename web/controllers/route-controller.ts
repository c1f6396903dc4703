// The page's route (web/routes.ts), kept in step with the address: back/forward, hash changes and
// navigate() all update it and re-render the host.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { routeOf, type Route } from '../routes.js';

export class RouteController implements ReactiveController {
  route: Route = routeOf(location);

  constructor(private readonly host: ReactiveControllerHost, private readonly onChange?: (route: Route) => void) {
    host.addController(this);
  }

  private readonly update = (): void => {
    const next = routeOf(location);
    if (JSON.stringify(next) === JSON.stringify(this.route)) return;
    this.route = next;
    this.onChange?.(next);
    this.host.requestUpdate();
  };

  hostConnected(): void {
    window.addEventListener('popstate', this.update);
    window.addEventListener('hashchange', this.update);
    this.update();
  }

  hostDisconnected(): void {
    window.removeEventListener('popstate', this.update);
    window.removeEventListener('hashchange', this.update);
  }
}
