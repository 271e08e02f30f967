/*
 * Linked into the sanitizer builds of replicas-engine and replicas-control
 * only (auto/test): the suppressions of t/lsan.supp built in, for the
 * engine inside a sandbox, where control gives the engine an environment
 * of its own and LSAN_OPTIONS never arrives.  Keep the two the same.
 */

const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
    /* Debian 12's libgit2 1.5 leaks a PCRE2 match context per search */
    return "leak:libpcre2-8.so\n";
}
