/*
 * Linked into the sanitizer builds of replicas-engine and replicas-control
 * only (auto/test): the suppressions of t/lsan.supp built in, for the
 * engine inside a sandbox, where control gives the engine an environment
 * of its own and LSAN_OPTIONS never arrives.  Keep the two the same.
 */

#define _GNU_SOURCE

#include <linux/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);

const char *
__lsan_default_suppressions(void)
{
    /* Debian 12's libgit2 1.5 leaks a PCRE2 match context per search */
    return "leak:libpcre2-8.so\n";
}


const char *
__asan_default_options(void)
{
    /*
     * Inside a sandbox the seccomp filter refuses ptrace, which
     * LeakSanitizer's check at exit needs: it failed every run of the
     * engine there (exit 1, "the warm hook failed").  There, leaks go
     * unchecked; memory errors are still reported.  A raw syscall: this
     * runs before the sanitizer's interceptors are set up.
     */
    if (syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0) == 2) {
        return "detect_leaks=0";
    }

    return "";
}
