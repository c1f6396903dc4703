// The seccomp profile of the boxes that run their own container runtime (docker and kubernetes
// profiles). Those boxes hold every capability but one inside their user namespace, so Docker's
// default profile (an allow-list keyed on capabilities) would let nearly everything through
// anyway, and an inner dockerd, containerd or kubelet needs mount, unshare, setns, pivot_root...
// So this profile allows by default and refuses what the inner runtimes do not need and what
// widens the kernel surface a learner reaches: a kernel bug behind one of these is a host escape,
// and kernel keys are a quota shared by every box (one uid on the host under remapping).
// The filter is inherited by everything in the box, the inner containers included.

/** errno values (x86_64 Linux). */
const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

interface SyscallRule {
  names: string[];
  action: 'SCMP_ACT_ERRNO';
  errnoRet: number;
  args?: Array<{ index: number; value: number; valueTwo: number; op: 'SCMP_CMP_MASKED_EQ' }>;
}

const rules: SyscallRule[] = [
  // Kernel keyrings: every container start takes a key from the remapped uid's quota (200 by
  // default), shared by all boxes; 80 inner `docker run`s locked out the whole host. ENOSYS, not
  // EPERM: runc treats ENOSYS as "no keyrings here" and starts the container without one.
  { names: ['keyctl', 'add_key', 'request_key'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  // clone3 passes its flags in memory that seccomp cannot read; ENOSYS makes glibc fall back to
  // clone, whose flags the rule below can see (Docker's default profile does the same).
  { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  // Nested user namespaces: a fresh one grants a full capability set again, the usual first step
  // of user-namespace kernel exploits. Neither dockerd nor the kubelet makes one.
  ...(['clone', 'unshare'] as const).map((name): SyscallRule => ({
    names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM,
    args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
  })),
  {
    names: [
      // Large, bug-prone kernel interfaces no lab needs.
      'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
      // Kernel code and the host as a whole.
      'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'reboot',
      'swapon', 'swapoff', 'acct', 'syslog', 'iopl', 'ioperm', 'lookup_dcookie', 'uselib', 'quotactl',
      'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex',
      // File handles name any inode of a mounted filesystem ("shocker", the classic escape).
      'open_by_handle_at', 'name_to_handle_at',
      'fanotify_init', 'nfsservctl', 'vm86', 'vm86old',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
  },
];

/** Syscall names this profile refuses outright (for the security battery and docs). */
export const REFUSED_SYSCALLS: readonly string[] = rules.filter((r) => !r.args).flatMap((r) => r.names);

/** The profile as Docker's API takes it: the JSON text behind `seccomp=` in SecurityOpt. */
export function runtimeBoxSeccomp(): string {
  return JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: rules,
  });
}

/**
 * The profile of every box under gVisor (TERMLAB_RUNTIME=runsc; the engine's runsc wrappers pass
 * --oci-seccomp, so the sentry applies it to the learner's processes). runsc answers every errno
 * rule with EPERM (runsc/specutils/seccomp), so the ENOSYS rules are left out: clone3 -> EPERM
 * stops glibc's fallback to clone (pthread_create fails, dockerd does not start), and keyctl ->
 * EPERM makes an inner runc fail. Neither reaches the host kernel under gVisor: keys are the
 * sentry's own. Shell boxes get it too instead of Docker's default profile, which has clone3 -> ENOSYS.
 */
export function runscBoxSeccomp(): string {
  return JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: rules.filter((r) => r.errnoRet !== ENOSYS),
  });
}
