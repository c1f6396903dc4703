// The boxes of one lab session: one per host, all on the session's private network.
import type { BoxHandle, SandboxDriver } from '../sessions/sandbox-driver.js';
import type { Lab } from './lab-loader.js';

/** Boxes for every host of the lab, on one session network; destroy them with destroyLabBoxes. */
export async function createLabBoxes(driver: SandboxDriver, lab: Lab, session: string): Promise<Map<string, BoxHandle>> {
  const boxes = new Map<string, BoxHandle>();
  // The first box makes the session network; the others join it.
  const [first, ...rest] = lab.hosts;
  boxes.set(first!, await driver.create({ session, profile: lab.profile, hostname: first!, internet: lab.internet }));
  const others = await Promise.allSettled(rest.map((host) => driver.create({ session, profile: lab.profile, hostname: host, internet: lab.internet })));
  others.forEach((r, i) => { if (r.status === 'fulfilled') boxes.set(rest[i]!, r.value); });
  const failed = others.find((r) => r.status === 'rejected');
  if (failed) {
    await destroyLabBoxes(driver, boxes);
    throw (failed as PromiseRejectedResult).reason;
  }
  return boxes;
}

export async function destroyLabBoxes(driver: SandboxDriver, boxes: Map<string, BoxHandle>): Promise<void> {
  await Promise.all([...boxes.values()].map((b) => driver.destroy(b).catch(() => {})));
}

