// How the engine's btrfs counts each box's disk use: the mode of its quotas.
//
// Full qgroups ("qgroup") count every extent a subvolume can reach, shared ones included, and keep
// that true as snapshots come and go: removing one box's snapshot walks every other snapshot that
// shares its extents. Measured here with 60 boxes on one image: 2.2 s of the kernel's btrfs-cleaner
// CPU per box removed and 0.3 s per box created, growing with every live box, on a machine whose
// two cores every learner's echo shares. Simple quotas ("squota", Linux 6.7+) count an extent
// against the subvolume that wrote it, for as long as it lives: 10 ms per box removed, flat; the
// limit is still enforced as blocks are written, deleted-but-open files included. What changes is
// what a limit means: only the box's own writes, not the image it shares.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

const execFileP = promisify(execFile);

export type QuotaMode = 'squota' | 'qgroup' | 'off';

/** The kernel can keep simple quotas (it lists the feature). */
export function kernelHasSimpleQuota(): boolean {
  return existsSync('/sys/fs/btrfs/features/simple_quota');
}

/** /sys/fs/btrfs/<uuid> of the btrfs filesystem holding `dir`, or undefined. */
export async function btrfsSysfs(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileP('btrfs', ['filesystem', 'show', dir]);
    const uuid = /uuid:\s*([0-9a-f-]{36})/.exec(stdout)?.[1];
    return uuid && existsSync(`/sys/fs/btrfs/${uuid}`) ? `/sys/fs/btrfs/${uuid}` : undefined;
  } catch {
    return undefined;
  }
}

export async function quotaMode(dir: string): Promise<QuotaMode | undefined> {
  const sysfs = await btrfsSysfs(dir);
  if (!sysfs) return undefined;
  if (!existsSync(`${sysfs}/qgroups`)) return 'off';
  try {
    const mode = readFileSync(`${sysfs}/qgroups/mode`, 'utf8').trim();
    return mode === 'squota' ? 'squota' : 'qgroup';
  } catch {
    return 'qgroup'; // kernels before 6.7 have no mode file and only full qgroups
  }
}

/**
 * Switches simple quotas on. btrfs-progs learned `quota enable --simple` only in 6.7 (Debian 12
 * has 6.2), so this is the ioctl itself, through Perl, which every Debian has: BTRFS_IOC_QUOTA_CTL
 * (_IOWR(0x94, 40, 16 bytes)) with BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA (4).
 */
export async function enableSimpleQuota(dir: string): Promise<void> {
  const script = 'use Fcntl; sysopen(my $fh, $ARGV[0], O_RDONLY|O_DIRECTORY) or die "open $ARGV[0]: $!\\n"; ' +
    'my $args = pack("QQ", 4, 0); ioctl($fh, 0xC0109428, $args) or die "BTRFS_IOC_QUOTA_CTL (enable simple quota) on $ARGV[0]: $!\\n";';
  await execFileP('perl', ['-e', script, dir]);
}

/**
 * Makes `dir`'s filesystem count with simple quotas when the kernel can, else full qgroups.
 * Only while no box lives on it: a switch forgets every limit set before (they are set again as
 * boxes are made), and what was written before the switch is never counted (the images: as wanted).
 */
export async function ensureQuotaMode(dir: string, log: (l: string) => void): Promise<QuotaMode> {
  const mode = await quotaMode(dir);
  if (!kernelHasSimpleQuota()) {
    if (mode === 'off') await execFileP('btrfs', ['quota', 'enable', dir]);
    return 'qgroup';
  }
  if (mode === 'squota') return mode;
  if (mode === 'qgroup') {
    log('termlab: switching the engine\'s disk accounting to simple quotas (removing a box then costs the kernel milliseconds, not seconds)');
    await execFileP('btrfs', ['quota', 'disable', dir]);
  }
  try {
    await enableSimpleQuota(dir);
  } catch (err) {
    // Another process starting the engine at the same moment may have switched it first.
    if (await quotaMode(dir) !== 'squota') throw err;
  }
  return 'squota';
}

const countsImage = new WeakMap<Docker, Promise<boolean>>();

/**
 * Whether a box's disk limit counts the image blocks it shares (full qgroups), so the limit must
 * be the image's size plus the learner's quota; under simple quotas it counts the box's own writes.
 */
export function limitCountsImage(docker: Docker): Promise<boolean> {
  let known = countsImage.get(docker);
  if (!known) {
    known = (async () => {
      const root = ((await docker.info()) as { DockerRootDir?: string }).DockerRootDir;
      return !root || (await quotaMode(root)) !== 'squota';
    })();
    countsImage.set(docker, known);
  }
  return known;
}
