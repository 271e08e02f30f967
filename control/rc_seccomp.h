/*
 * The sandbox's seccomp filter, in the style of Docker's default profile:
 * a hand-written classic BPF program (no libseccomp) that bubblewrap
 * installs (--seccomp FD) just before it runs the sandbox's command.
 * Everything is allowed but the system calls a workspace never needs and
 * that widen the kernel's attack surface or reach past the sandbox: new
 * namespaces (unshare, setns, clone with CLONE_NEW*; clone3 is ENOSYS so
 * libc falls back to clone, whose flags can be read), mounts, keyrings,
 * bpf, ptrace and process_vm_*, kernel modules, kexec, perf_event_open,
 * userfaultfd, io_uring, swap, reboot, the clock, quotas and a few more.
 * They fail with EPERM; a foreign architecture (x32, i386 on x86_64) is
 * killed.
 */

#ifndef RC_SECCOMP_H
#define RC_SECCOMP_H

/* a sealed memfd holding the program (struct sock_filter[]) for bwrap
 * --seccomp, close-on-exec; or -1 with errno */
int rc_seccomp_fd(void);

#endif /* RC_SECCOMP_H */
