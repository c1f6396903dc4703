// How much of its disk cap a box has used, as the kernel counts it.
//
// The sweeper asks for every box every few seconds. Docker's answer (inspect with size) walks the
// box's whole writable layer and diffs it against the image: on btrfs ~130 ms of the engine's CPU
// per box per sweep, which every learner's keystroke echo felt (quiet p99 4 ms -> 20 ms with a
// handful of boxes). Under the btrfs driver the cap is a qgroup limit on the box's subvolume, and
// the kernel keeps that qgroup's usage in sysfs: reading it costs a file read, and it counts what
// the cap counts, deleted-but-open files included. The figures there are updated at each btrfs
// transaction commit (at most 30 s behind), which is soon enough for a "nearly full" notice: the
// cap itself is enforced by the kernel as blocks are written.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { btrfsSysfs } from './btrfs-quota.js';
import { execFileOffLoop } from './exec-off-loop.js';

export interface DiskUse {
  /** Bytes counted against the box's cap (qgroup referenced). */
  referenced: number;
  /** The cap (qgroup max_referenced), or undefined when none is set. */
  limit: number | undefined;
}

export class BtrfsBoxDisk {
  private readonly subvolumes = new Map<string, number>();
  private listed: Promise<Map<string, number> | undefined> | undefined;

  private constructor(private readonly dataRoot: string, private readonly sysfs: string) {}

  /** For an engine on the btrfs driver whose filesystem shows its qgroups in sysfs; else undefined. */
  static async open(docker: Docker): Promise<BtrfsBoxDisk | undefined> {
    const info = (await docker.info()) as { Driver?: string; DockerRootDir?: string };
    if (info.Driver !== 'btrfs' || !info.DockerRootDir) return undefined;
    const fs = await btrfsSysfs(info.DockerRootDir);
    if (!fs || !existsSync(`${fs}/qgroups`)) return undefined;
    return new BtrfsBoxDisk(info.DockerRootDir, `${fs}/qgroups`);
  }

  /** The box's usage, or undefined when its subvolume or qgroup cannot be found. */
  async use(containerId: string): Promise<DiskUse | undefined> {
    const id = await this.subvolumeOf(containerId);
    if (id === undefined) return undefined;
    try {
      const read = (f: string) => Number(readFileSync(`${this.sysfs}/0_${id}/${f}`, 'utf8').trim());
      const limit = read('max_referenced');
      return { referenced: read('referenced'), limit: limit > 0 && limit < 2 ** 62 ? limit : undefined };
    } catch {
      return undefined;
    }
  }

  forget(containerId: string): void {
    this.subvolumes.delete(containerId);
  }

  /**
   * The box's writable layer is a subvolume named by its mount id. Its id comes from one listing
   * of every subvolume (`btrfs subvolume list`), shared by every box not yet known: a process
   * per box would cost the event loop a fork each (50 boxes: 300 ms at one sweep, which every
   * learner's keystroke felt).
   */
  private async subvolumeOf(containerId: string): Promise<number | undefined> {
    const known = this.subvolumes.get(containerId);
    if (known !== undefined) return known;
    let mountId: string;
    try {
      mountId = readFileSync(path.join(this.dataRoot, 'image/btrfs/layerdb/mounts', containerId, 'mount-id'), 'utf8').trim();
    } catch {
      return undefined;
    }
    const id = (await this.listing())?.get(mountId);
    if (id !== undefined) this.subvolumes.set(containerId, id);
    return id;
  }

  /** Subvolume ids by name, listed once for all the boxes asking at the same time. */
  private listing(): Promise<Map<string, number> | undefined> {
    this.listed ??= (async () => {
      try {
        const { stdout } = await execFileOffLoop('btrfs', ['subvolume', 'list', this.dataRoot], { maxBuffer: 16 * 1024 * 1024 });
        const ids = new Map<string, number>();
        for (const m of stdout.matchAll(/^ID (\d+) .* path (?:.*\/)?([^/\n]+)$/gm)) ids.set(m[2]!, Number(m[1]));
        return ids;
      } catch {
        return undefined;
      } finally {
        this.listed = undefined;
      }
    })();
    return this.listed;
  }
}
