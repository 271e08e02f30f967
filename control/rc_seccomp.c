/* The sandbox's seccomp filter: see rc_seccomp.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rc_seccomp.h"


#if defined(__x86_64__)
#define RC_AUDIT_ARCH  AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define RC_AUDIT_ARCH  AUDIT_ARCH_AARCH64
#else
#error "rc_seccomp.c: add this architecture's AUDIT_ARCH"
#endif

#define RC_SC_MAX  256

#define RC_SC_NEW_NS  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS         \
                       | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID         \
                       | CLONE_NEWNET)


/* refused with EPERM (those this architecture has) */
static const int  rc_seccomp_denied[] = {
    /* namespaces: bwrap made the sandbox's; no more (nested user
     * namespaces are how unprivileged code reaches mount, ...) */
    __NR_unshare, __NR_setns,
    /* mounts */
#ifdef __NR_mount
    __NR_mount,
#endif
    __NR_umount2, __NR_pivot_root, __NR_chroot,
#ifdef __NR_fsopen
    __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick, __NR_move_mount,
    __NR_open_tree,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
    /* keyrings (not namespaced), bpf, perf, userfaultfd, io_uring */
    __NR_keyctl, __NR_add_key, __NR_request_key, __NR_bpf,
    __NR_perf_event_open, __NR_userfaultfd,
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#endif
    /* other processes' memory */
    __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev,
#ifdef __NR_kcmp
    __NR_kcmp,
#endif
    /* the kernel itself */
    __NR_init_module, __NR_finit_module, __NR_delete_module,
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_reboot, __NR_swapon, __NR_swapoff, __NR_syslog, __NR_acct,
    __NR_quotactl, __NR_open_by_handle_at, __NR_lookup_dcookie,
    __NR_fanotify_init, __NR_settimeofday, __NR_clock_settime,
    __NR_clock_adjtime, __NR_adjtimex,
#ifdef __NR_iopl
    __NR_iopl, __NR_ioperm,
#endif
#ifdef __NR_uselib
    __NR_uselib,
#endif
#ifdef __NR_sysfs
    __NR_sysfs,
#endif
#ifdef __NR__sysctl
    __NR__sysctl,
#endif
    __NR_vhangup
};


static size_t
rc_seccomp_build(struct sock_filter *f)
{
    size_t  n, i;

    n = 0;

    /* the architecture first: numbers mean nothing across them */
    f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                 RC_AUDIT_ARCH, 1, 0);
    f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_KILL_PROCESS);

    f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, nr));

#ifdef __x86_64__
    /* the x32 ABI: the same calls under other numbers */
    f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
                 0x40000000, 0, 1);
    f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_KILL_PROCESS);
#endif

    for (i = 0; i < sizeof(rc_seccomp_denied) / sizeof(int); i++) {
        f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                     rc_seccomp_denied[i], 0, 1);
        f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                     SECCOMP_RET_ERRNO | EPERM);
    }

    /* clone3's flags are behind a pointer: ENOSYS, libc then uses clone */
#ifdef __NR_clone3
    f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                 __NR_clone3, 0, 1);
    f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ERRNO | ENOSYS);
#endif

    /* clone: threads and processes, but no new namespace (flags are the
     * first argument on x86_64 and arm64; the low 32 bits hold them) */
    f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                 __NR_clone, 0, 3);
    f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, args[0]));
    f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
                 RC_SC_NEW_NS, 0, 1);
    f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ERRNO | EPERM);

    f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ALLOW);

    return n;
}


int
rc_seccomp_fd(void)
{
    int                 fd, e;
    size_t              n, len;
    struct sock_filter  f[RC_SC_MAX];

    n = rc_seccomp_build(f);
    len = n * sizeof(f[0]);

    fd = memfd_create("replicas-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return -1;
    }

    if (write(fd, f, len) != (ssize_t) len
        || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
                                  | F_SEAL_SEAL) != 0
        || lseek(fd, 0, SEEK_SET) != 0)
    {
        e = errno;
        close(fd);
        errno = e ? e : EIO;
        return -1;
    }

    return fd;
}
