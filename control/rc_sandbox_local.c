/*
 * The local sandbox driver: a workspace as an isolated environment on
 * this machine, the way a VM would be.
 *
 *   network  its own namespace and address (rc_net.c)
 *   disk     overlayfs: the repositories' image layers, read-only and
 *            shared, under a writable layer of its own, so a new sandbox
 *            costs no copy; mounted on the host at sandboxes/<id>/merged.
 *            The writable layer is a filesystem image of --disk MiB
 *            (rc_disk.c), loop-mounted at sandboxes/<id>/disk while the
 *            sandbox runs: the kernel enforces its size (ENOSPC inside)
 *   limits   a cgroup with memory, process and CPU limits (rc_cgroup.c)
 *   inside   bubblewrap, run as an unprivileged user: new user, mount,
 *            PID, IPC and UTS namespaces, no nested user namespace, a
 *            seccomp filter (rc_seccomp.c); /usr read-only, of /etc only
 *            what programs read (rc_local_etc), the disk at /workspace, a
 *            private /tmp, nothing else of the host (not REPLICAS_HOME,
 *            not /root, not other sandboxes)
 *
 * Processes are started detached (double fork): a sandbox outlives the
 * worker that started it, as a VM outlives its control plane.  The cgroup
 * is how a later worker finds, watches and stops them.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rc_cgroup.h"
#include "rc_disk.h"
#include "rc_exec.h"
#include "rc_net.h"
#include "rc_sandbox.h"
#include "rc_seccomp.h"


#define RC_BWRAP          "/usr/bin/bwrap"
#define RC_ENGINE_PATH    "/opt/replicas/bin/replicas-engine"
#define RC_AGENTS_PATH    "/opt/replicas/agents"
#define RC_CLI_PATH       "/opt/replicas/bin/replicas"
#define RC_ARGS_MAX       320
#define RC_ENV_MAX        256
#define RC_BINDS_MAX      8
/* written to the engine's log before each start: what follows it is
 * that start's, bwrap's own error first if it could not set up */
#define RC_LOCAL_MARK     "replicas-control: sandbox start"

static rc_local_conf_t  rc_local;
static rc_net_conf_t    rc_local_net;
static char             rc_local_resolv[RC_SANDBOX_PATH_MAX];  /* or "" */
static char             rc_local_resolv_text[512];
static char             rc_local_dns[160];
static char             rc_local_group[32];
/* the sandbox's own /etc/passwd and /etc/group: its user, root, nobody */
static char             rc_local_passwd[512];
static char             rc_local_groups[256];

/*
 * What of the host's /etc a sandbox sees, read-only (those that exist):
 * what libc, the shells, git, ssh, python, node, java, the agents' CLIs,
 * chromium and the desktop read.  Not passwd, shadow, group, hostname,
 * machine-id, ssh host keys, the host's services' configurations, nor
 * the host's gitconfig, npmrc, pip.conf or environment (credentials and
 * settings of the host's own users).
 */
static const char  *rc_local_etc[] = {
    "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates",
    "/etc/ca-certificates.conf", "/etc/ld.so.cache", "/etc/ld.so.conf",
    "/etc/ld.so.conf.d", "/etc/nsswitch.conf", "/etc/host.conf",
    "/etc/gai.conf", "/etc/protocols", "/etc/services", "/etc/networks",
    "/etc/localtime", "/etc/timezone", "/etc/locale.alias",
    "/etc/os-release", "/etc/debian_version", "/etc/shells",
    "/etc/profile", "/etc/profile.d", "/etc/bash.bashrc", "/etc/inputrc",
    "/etc/terminfo", "/etc/mime.types", "/etc/mailcap", "/etc/magic",
    "/etc/magic.mime", "/etc/ssh/ssh_config", "/etc/ssh/ssh_config.d",
    "/etc/python3", "/etc/python3.11", "/etc/perl",
    "/etc/java-17-openjdk", "/etc/fonts", "/etc/X11", "/etc/xdg",
    "/etc/gtk-3.0", "/etc/chromium", "/etc/chromium.d", "/etc/glvnd",
    "/etc/vim", "/etc/wgetrc", "/etc/xml", "/etc/sgml", "/etc/iproute2",
    NULL
};


/*
 * --dns: sandboxes get a resolv.conf of their own (bound over the host's)
 * naming these resolvers, and only these may be asked; "none": one that
 * names the sandbox's own loopback, where nothing answers, so a lookup
 * fails at once instead of timing out.
 */
static int
rc_local_resolv_conf(const char *dns, char *err, size_t errlen)
{
    int             fd;
    char            text[512], list[160], *copy, *ip, *save;
    size_t          len, llen;
    struct in_addr  in;

    len = 0;
    llen = 0;
    list[0] = '\0';

    if (strcmp(dns, "none") == 0) {
        len = snprintf(text, sizeof(text), "nameserver 127.0.0.1\n");

    } else {
        copy = strdup(dns);
        if (copy == NULL) {
            return -1;
        }

        for (ip = strtok_r(copy, ",", &save); ip;
             ip = strtok_r(NULL, ",", &save))
        {
            if (inet_pton(AF_INET, ip, &in) != 1 || llen + 20 > sizeof(list)) {
                snprintf(err, errlen, "--dns: \"%s\" is not an IPv4 address",
                         ip);
                free(copy);
                return -1;
            }

            len += snprintf(text + len, sizeof(text) - len,
                            "nameserver %s\n", ip);
            llen += snprintf(list + llen, sizeof(list) - llen, "%s%s",
                             llen ? ", " : "", ip);
        }

        free(copy);
    }

    snprintf(rc_local_dns, sizeof(rc_local_dns), "%s", list);
    rc_local_net.dns = rc_local_dns;

    snprintf(rc_local_resolv, sizeof(rc_local_resolv), "%s/resolv.conf",
             rc_local.home);

    fd = open(rc_local_resolv, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
              0644);

    if (fd < 0 || write(fd, text, len) != (ssize_t) len) {
        snprintf(err, errlen, "%s: %s", rc_local_resolv, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }

    close(fd);

    snprintf(rc_local_resolv_text, sizeof(rc_local_resolv_text), "%s", text);

    return 0;
}


static void
rc_local_users(void)
{
    struct group   *gr;
    struct passwd  *pw;

    pw = getpwuid(rc_local.uid);
    gr = getgrgid(rc_local.gid);

    snprintf(rc_local_passwd, sizeof(rc_local_passwd),
             "root:x:0:0:root:/root:/usr/sbin/nologin\n"
             "%s:x:%u:%u::/workspace/.home:/bin/bash\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
             pw ? pw->pw_name : "replicas", (unsigned) rc_local.uid,
             (unsigned) rc_local.gid);

    snprintf(rc_local_groups, sizeof(rc_local_groups),
             "root:x:0:\n%s:x:%u:\nnogroup:x:65534:\n",
             gr ? gr->gr_name : "replicas", (unsigned) rc_local.gid);
}


int
rc_sandbox_local_init(const rc_local_conf_t *conf, char *err, size_t errlen)
{
    unsigned  i;

    rc_local = *conf;

    if (rc_net_conf_parse(&rc_local_net, conf->net_name, conf->net_range,
                          err, errlen) != 0)
    {
        return -1;
    }

    for (i = 0; i < conf->net_nports && i < RC_NET_PORTS_MAX; i++) {
        rc_local_net.ports[i] = conf->net_ports[i];
    }

    rc_local_net.nports = i;
    rc_local_net.egress = conf->egress;

    if (conf->dns && rc_local_resolv_conf(conf->dns, err, errlen) != 0) {
        return -1;
    }

    if (access(RC_BWRAP, X_OK) != 0) {
        snprintf(err, errlen, RC_BWRAP " is missing (Debian's bubblewrap)");
        return -1;
    }

    if (access(conf->engine, X_OK) != 0) {
        snprintf(err, errlen, "engine %s: %s", conf->engine, strerror(errno));
        return -1;
    }

    snprintf(rc_local_group, sizeof(rc_local_group), "replicas-%s",
             conf->net_name);

    rc_local_users();

    if (rc_cgroup_init(rc_local_group, err, errlen) != 0) {
        return -1;
    }

    /* said once, at start, rather than by every sandbox that fails */
    if (conf->cpu_millis && !rc_cgroup_has_cpu()) {
        snprintf(err, errlen, "--cpus: this machine's cgroups have no cpu "
                 "controller (--cpus 0: no CPU quota)");
        return -1;
    }

    return 0;
}


int
rc_sandbox_local_up(char *err, size_t errlen)
{
    return rc_net_setup(&rc_local_net, err, errlen);
}


void
rc_sandbox_local_teardown(void)
{
    rc_net_teardown(&rc_local_net);
    rc_cgroup_fini();
}


unsigned
rc_sandbox_local_slots(void)
{
    return rc_net_slots(&rc_local_net);
}


void
rc_sandbox_local_slot_addr(unsigned slot, char *buf, size_t size)
{
    rc_net_slot_addr(&rc_local_net, slot, buf, size);
}


static void
rc_local_path(const rc_sandbox_t *sb, const char *leaf, char *buf,
    size_t size)
{
    snprintf(buf, size, "%s/sandboxes/%s%s%s", rc_local.home, sb->id,
             leaf ? "/" : "", leaf ? leaf : "");
}


static int
rc_local_root(rc_sandbox_t *sb, char *path, size_t size)
{
    if (sb->bind[0]) {
        snprintf(path, size, "%s", sb->bind);
    } else {
        rc_local_path(sb, "merged", path, size);
    }

    return 0;
}


static int
rc_local_mkdir_owned(const char *path, char *err, size_t errlen)
{
    if (rc_mkdirs(path, 0755) != 0
        || chown(path, rc_local.uid, rc_local.gid) != 0)
    {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    return 0;
}


/*
 * The image layers as links lower/0, lower/1, ... beside the disk: the
 * overlay is mounted with paths relative to the sandbox's directory, so
 * its options (in the sandbox's /proc/self/mountinfo) name no host path.
 */
static int
rc_local_lower_links(rc_sandbox_t *sb, char *opts, size_t size, char *err,
    size_t errlen)
{
    int     i;
    char    link[RC_SANDBOX_PATH_MAX + 32], *copy, *layer, *save;
    size_t  len;

    rc_local_path(sb, "lower", link, sizeof(link));
    (void) rc_rmtree(link);

    if (rc_mkdirs(link, 0700) != 0 || (copy = strdup(sb->lower)) == NULL) {
        snprintf(err, errlen, "%s: %s", link, strerror(errno));
        return -1;
    }

    len = snprintf(opts, size, "lowerdir=");

    for (i = 0, layer = strtok_r(copy, ":", &save); layer;
         i++, layer = strtok_r(NULL, ":", &save))
    {
        rc_local_path(sb, "lower", link, sizeof(link));
        snprintf(link + strlen(link), sizeof(link) - strlen(link), "/%d", i);

        if (symlink(layer, link) != 0) {
            snprintf(err, errlen, "%s: %s", link, strerror(errno));
            free(copy);
            return -1;
        }

        len += snprintf(opts + len, size - len, "%slower/%d", i ? ":" : "",
                        i);
    }

    free(copy);

    snprintf(opts + len, size - len, ",upperdir=disk/upper,workdir=disk/work");

    return 0;
}


/* a sandbox made before disk images: its writable layer is the
 * directory upper/ beside merged/, on the host's filesystem, no quota */
static int
rc_local_legacy(rc_sandbox_t *sb)
{
    char         path[RC_SANDBOX_PATH_MAX];
    struct stat  st;

    rc_local_path(sb, "upper", path, sizeof(path));

    return sb->bind[0] == '\0' && stat(path, &st) == 0;
}


/* the disk image mounted, and the overlay over it at merged (nothing
 * where they are mounted already: a wake, a redone job) */
static int
rc_local_disk_up(rc_sandbox_t *sb, char *err, size_t errlen)
{
    int   cwd, rc;
    char *p;
    char  dir[RC_SANDBOX_PATH_MAX], disk[RC_SANDBOX_PATH_MAX];
    char  image[RC_SANDBOX_PATH_MAX + 16], merged[RC_SANDBOX_PATH_MAX];
    char  opts[3 * RC_SANDBOX_PATH_MAX + 64], path[RC_SANDBOX_PATH_MAX + 16];

    rc_local_path(sb, NULL, dir, sizeof(dir));
    rc_local_path(sb, "disk", disk, sizeof(disk));
    rc_local_path(sb, "disk.img", image, sizeof(image));
    rc_local_path(sb, "merged", merged, sizeof(merged));

    if (rc_disk_is_mount(merged)) {
        return 0;
    }

    if (rc_local_legacy(sb)) {
        if (rc_local_lower_links(sb, opts, sizeof(opts), err, errlen) != 0) {
            return -1;
        }

        /* the same options, its own layer's place */
        p = strstr(opts, ",upperdir=");
        snprintf(p, sizeof(opts) - (p - opts), ",upperdir=upper,workdir=work");
        goto overlay;
    }

    if (rc_mkdirs(disk, 0700) != 0 || rc_mkdirs(merged, 0755) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }

    if (rc_disk_mount(image, disk, err, errlen) != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/work", disk);
    if (rc_mkdirs(path, 0700) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    snprintf(path, sizeof(path), "%s/upper", disk);
    if (rc_local_mkdir_owned(path, err, errlen) != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/run", disk);
    if (rc_local_mkdir_owned(path, err, errlen) != 0) {
        return -1;
    }

    if (rc_local_lower_links(sb, opts, sizeof(opts), err, errlen) != 0) {
        return -1;
    }

overlay:

    cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

    rc = chdir(dir) == 0 ? mount("overlay", merged, "overlay",
                                 MS_NOSUID | MS_NODEV, opts)
                         : -1;
    if (rc != 0) {
        snprintf(err, errlen, "overlay mount on %s: %s", merged,
                 strerror(errno));
    }

    if (cwd >= 0) {
        (void) fchdir(cwd);
        close(cwd);
    }

    if (rc != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/.home", merged);
    if (rc_local_mkdir_owned(path, err, errlen) != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/.replicas", merged);

    return rc_local_mkdir_owned(path, err, errlen);
}


/* both unmounted (lazily: the last user gone, the loop device goes too) */
static int
rc_local_disk_down(rc_sandbox_t *sb)
{
    int   rc;
    char  path[RC_SANDBOX_PATH_MAX];

    rc = 0;
    rc_local_path(sb, "merged", path, sizeof(path));

    if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    {
        rc = -1;
    }

    rc_local_path(sb, "disk", path, sizeof(path));

    if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    {
        rc = -1;
    }

    return rc;
}


static int
rc_local_create(rc_sandbox_t *sb, char *err, size_t errlen)
{
    char  dir[RC_SANDBOX_PATH_MAX], image[RC_SANDBOX_PATH_MAX + 16];
    char  path[RC_SANDBOX_PATH_MAX + 16];

    rc_local_path(sb, NULL, dir, sizeof(dir));
    rc_local_path(sb, "disk.img", image, sizeof(image));
    rc_local_path(sb, "run", path, sizeof(path));

    if (rc_mkdirs(dir, 0711) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }

    if (sb->bind[0]) {
        /* a build: its run directory beside the directory it builds */
        if (rc_local_mkdir_owned(path, err, errlen) != 0) {
            return -1;
        }

    } else {
        /* a retried create finds its first mounts: start over */
        (void) rc_local_disk_down(sb);

        if (rc_disk_make(image, sb->disk_max ? sb->disk_max
                                             : rc_local.disk_max,
                         0, 0, err, errlen) != 0
            || rc_local_disk_up(sb, err, errlen) != 0)
        {
            return -1;
        }
    }

    if (rc_net_create(&rc_local_net, sb->id, sb->slot, err, errlen) != 0) {
        return -1;
    }

    rc_net_slot_addr(&rc_local_net, sb->slot, sb->addr, sizeof(sb->addr));

    return 0;
}


/* the host's /bin and friends: symlinks into /usr on Debian 12 */
static int
rc_local_usr_links(char **argv, int n)
{
    static const char  *links[][2] = {
        { "usr/bin", "/bin" }, { "usr/sbin", "/sbin" },
        { "usr/lib", "/lib" }, { "usr/lib64", "/lib64" },
        { "usr/lib32", "/lib32" }
    };
    size_t              i;
    struct stat         st;

    for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        if (lstat(links[i][1], &st) != 0) {
            continue;
        }

        if (S_ISLNK(st.st_mode)) {
            argv[n++] = "--symlink";
            argv[n++] = (char *) links[i][0];
        } else {
            argv[n++] = "--ro-bind";
            argv[n++] = (char *) links[i][1];
        }

        argv[n++] = (char *) links[i][1];
    }

    return n;
}


/* an fd bwrap reads (--file, --seccomp): made here close-on-exec, its
 * number in argv given in the child, where it is inherited */
typedef struct {
    int   fd;
    char  num[16];
} rc_local_fd_t;

#define RC_LOCAL_FDS  5


static int
rc_local_text_fd(const char *text)
{
    int     fd;
    size_t  len;

    len = strlen(text);
    fd = memfd_create("replicas-etc", MFD_CLOEXEC);

    if (fd >= 0 && (write(fd, text, len) != (ssize_t) len
                    || lseek(fd, 0, SEEK_SET) != 0))
    {
        close(fd);
        return -1;
    }

    return fd;
}


/*
 * Bind sources under REPLICAS_HOME, the checkout or objs/ (the disk, the
 * run folder, the engine, the agents) may sit in folders only root can
 * enter (a clone under /root, mode 700), and bwrap, run as the sandbox's
 * user, walks every source path (0.8 even for --bind-fd: it takes the
 * realpath).  So none is given to it by its own path: the child, still
 * root, takes a mount namespace of its own (private: nothing reaches the
 * host), opens each source, covers /tmp with an empty tmpfs and
 * bind-mounts each source at /tmp/replicas-bind-<i>, a path the user can
 * walk; bwrap binds from there.  Only bwrap's monitor lives in that
 * namespace; the sandbox gets bwrap's own, as before.  The user's folders
 * keep their modes.
 *
 * The namespace starts as a copy of the host's mounts, other sandboxes'
 * disks included; kept, those copies would hold a sleeping workspace's
 * disk mounted for as long as this sandbox runs.  So every mount under
 * the home is detached in it once the sources are staged.
 */
#define RC_STAGE          "/tmp"
#define RC_STAGE_ENTRY    RC_STAGE "/replicas-bind-%u"
#define RC_STAGE_DROP     64

typedef struct {
    const char  *src[RC_BINDS_MAX];
    char         stage[RC_BINDS_MAX][40];
    unsigned     n;
} rc_local_binds_t;


static int
rc_local_bind(char **argv, int *n, rc_local_binds_t *b, const char *opt,
    const char *src, const char *dest, char *err, size_t errlen)
{
    if (b->n == RC_BINDS_MAX) {
        snprintf(err, errlen, "too many bind mounts");
        return -1;
    }

    b->src[b->n] = src;
    snprintf(b->stage[b->n], sizeof(b->stage[0]), RC_STAGE_ENTRY, b->n);

    argv[(*n)++] = (char *) opt;
    argv[(*n)++] = b->stage[b->n];
    argv[(*n)++] = (char *) dest;

    b->n++;

    return 0;
}


/* the mounts under the home, opened (O_PATH) before /tmp is covered (the
 * home may be under /tmp), deepest last in mountinfo's order; their
 * number */
static unsigned
rc_local_home_mounts(int *fds, unsigned max)
{
    char     line[4096], point[4096], home[PATH_MAX];
    FILE    *f;
    size_t   hlen;
    unsigned n;

    n = 0;

    if (realpath(rc_local.home, home) == NULL) {
        return 0;
    }

    hlen = strlen(home);

    f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL) {
        return 0;
    }

    /* "id parent major:minor root mountpoint ...": a home with a space
     * (escaped there) is not matched, and its copies stay */
    while (n < max && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1
            || strncmp(point, home, hlen) != 0 || point[hlen] != '/')
        {
            continue;
        }

        fds[n] = open(point, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fds[n] >= 0) {
            n++;
        }
    }

    fclose(f);

    return n;
}


/* in the child, as root: the sources where the sandbox's user reaches
 * them (above); 0, or -1 with errno */
static int
rc_local_stage(const rc_local_binds_t *b)
{
    int          fds[RC_BINDS_MAX], drop[RC_STAGE_DROP], fd, e;
    char         proc[32];
    unsigned     i, opened, ndrop;
    struct stat  st;

    ndrop = 0;

    if (unshare(CLONE_NEWNS) != 0
        || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    {
        return -1;
    }

    /* opened in this namespace, before /tmp is covered (the home may be
     * under /tmp): a mount is bound from its own namespace only */
    for (opened = 0; opened < b->n; opened++) {
        fds[opened] = open(b->src[opened], O_PATH | O_CLOEXEC);
        if (fds[opened] < 0) {
            goto failed;
        }
    }

    ndrop = rc_local_home_mounts(drop, RC_STAGE_DROP);

    if (mount("replicas", RC_STAGE, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755,size=64k") != 0)
    {
        goto failed;
    }

    for (i = 0; i < b->n; i++) {
        if (fstat(fds[i], &st) != 0) {
            goto failed;
        }

        if (S_ISDIR(st.st_mode)) {
            if (mkdir(b->stage[i], 0755) != 0) {
                goto failed;
            }

        } else {
            fd = open(b->stage[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      0644);
            if (fd < 0) {
                goto failed;
            }
            close(fd);
        }

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fds[i]);

        if (mount(proc, b->stage[i], NULL, MS_BIND, NULL) != 0) {
            goto failed;
        }
    }

    /* the staged binds are mounts of their own now: the home's copies
     * go, children before parents (a failure leaves a copy, no harm) */
    for (i = ndrop; i > 0; i--) {
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", drop[i - 1]);
        (void) umount2(proc, MNT_DETACH);
    }

    for (i = 0; i < ndrop; i++) {
        close(drop[i]);
    }

    for (i = 0; i < opened; i++) {
        close(fds[i]);
    }

    return 0;

failed:

    e = errno;

    for (i = 0; i < opened; i++) {
        close(fds[i]);
    }

    for (i = 0; i < ndrop; i++) {
        close(drop[i]);
    }

    errno = e;

    return -1;
}


/* the same for control's own children that become the sandbox's user
 * (git on a workspace's disk): src, reachable by them at path */
int
rc_sandbox_local_reach(const char *src, char *path, size_t size)
{
    rc_local_binds_t  b;

    b.n = 1;
    b.src[0] = src;
    snprintf(b.stage[0], sizeof(b.stage[0]), RC_STAGE_ENTRY, 0u);

    if (rc_local_stage(&b) != 0) {
        return -1;
    }

    snprintf(path, size, "%s", b.stage[0]);

    return 0;
}


/* in the child, as root still: join the limits and the network, then
 * become the sandbox's user and run bubblewrap */
static void
rc_local_exec(rc_sandbox_t *sb, int netfd, int logfd, int infd, int errfd,
    rc_local_fd_t *pass, int npass, const rc_local_binds_t *binds,
    char **argv, char **envp)
{
    int  e, i, fd;

    /* inherited by bwrap: copies without close-on-exec, above stdio */
    for (i = 0; i < npass; i++) {
        fd = fcntl(pass[i].fd, F_DUPFD, 10);
        if (fd < 0) {
            goto failed;
        }

        snprintf(pass[i].num, sizeof(pass[i].num), "%d", fd);
    }

    if (rc_cgroup_enter(sb->id, getpid()) != 0) {
        goto failed;
    }

    if (rc_local_stage(binds) != 0) {
        goto failed;
    }

    if (setns(netfd, CLONE_NEWNET) != 0) {
        goto failed;
    }

    if (dup2(infd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0) {
        goto failed;
    }

    if (setgroups(0, NULL) != 0 || setgid(rc_local.gid) != 0
        || setuid(rc_local.uid) != 0)
    {
        goto failed;
    }

    if (chdir("/") != 0) {
        goto failed;
    }

    execve(RC_BWRAP, argv, envp);

failed:

    e = errno;
    (void) write(errfd, &e, sizeof(e));
    _exit(127);
}


static void
rc_local_close_fds(rc_local_fd_t *pass, int npass)
{
    int  i;

    for (i = 0; i < npass; i++) {
        if (pass[i].fd >= 0) {
            close(pass[i].fd);
        }
    }
}


/* the host's /etc entries of rc_local_etc that exist, read-only; the
 * rest of /etc is bubblewrap's (empty) root */
static int
rc_local_etc_binds(char **argv, int n)
{
    size_t  i;

    for (i = 0; rc_local_etc[i]; i++) {
        if (access(rc_local_etc[i], F_OK) == 0) {
            argv[n++] = "--ro-bind";
            argv[n++] = (char *) rc_local_etc[i];
            argv[n++] = (char *) rc_local_etc[i];
        }
    }

    argv[n++] = "--symlink";
    argv[n++] = "/proc/self/mounts";
    argv[n++] = "/etc/mtab";

    return n;
}


/*
 * bwrap's own complaint (it could not set the sandbox up: a bind source,
 * a namespace) from a log: the first line written after "from", when it
 * is bwrap's.  Then nothing of the command ran, and that line is the
 * reason to give, rather than an exit status.
 */
static int
rc_local_bwrap_error(int fd, off_t from, char *buf, size_t size)
{
    char     text[512], *nl;
    ssize_t  got;

    got = pread(fd, text, sizeof(text) - 1, from);
    if (got <= 0) {
        return 0;
    }

    text[got] = '\0';
    nl = strchr(text, '\n');
    if (nl) {
        *nl = '\0';
    }

    if (strncmp(text, "bwrap: ", 7) != 0) {
        return 0;
    }

    snprintf(buf, size, "the sandbox could not start: %s", text);

    return 1;
}


/* what a start passes between its steps */
typedef struct {
    char              *argv[RC_ARGS_MAX];
    char              *envp[RC_ENV_MAX];
    rc_local_fd_t      pass[RC_LOCAL_FDS];
    int                npass;
    rc_local_binds_t   binds;
    char               root[RC_SANDBOX_PATH_MAX];
    char               rundir[RC_SANDBOX_PATH_MAX];
    char               hostname[64];
    char               hosts[192];
    char               wsenv[64];
} rc_local_start_t;


/* the files bwrap gets as descriptors (seccomp filter, passwd, group,
 * hosts, resolv.conf): memfds of text made here */
static int
rc_local_start_fds(rc_sandbox_t *sb, rc_local_start_t *st, char *err,
    size_t errlen)
{
    int  i;

    st->npass = 0;
    st->pass[st->npass++].fd = rc_seccomp_fd();
    st->pass[st->npass++].fd = rc_local_text_fd(rc_local_passwd);
    st->pass[st->npass++].fd = rc_local_text_fd(rc_local_groups);
    snprintf(st->hostname, sizeof(st->hostname), "%s",
             sb->workspace[0] ? sb->workspace : sb->id);
    snprintf(st->hosts, sizeof(st->hosts), "127.0.0.1\tlocalhost\n"
             "127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
             st->hostname);
    st->pass[st->npass++].fd = rc_local_text_fd(st->hosts);
    if (rc_local_resolv[0]) {
        st->pass[st->npass++].fd = rc_local_text_fd(rc_local_resolv_text);
    }

    for (i = 0; i < st->npass; i++) {
        if (st->pass[i].fd < 0) {
            snprintf(err, errlen, "sandbox %s: memfd: %s", sb->id,
                     strerror(errno));
            return -1;
        }
    }

    return 0;
}


/* bwrap's command line: namespaces, the read-only system, the files
 * above, the workspace's binds, then the engine (or the run's command) */
static int
rc_local_start_argv(rc_sandbox_t *sb, const rc_sandbox_run_t *run,
    rc_local_start_t *st, char *err, size_t errlen)
{
    int     n, i;
    char  **argv = st->argv;

    (void) sb;

    n = 0;
    argv[n++] = "bwrap";
    argv[n++] = "--unshare-user";
    argv[n++] = "--disable-userns";
    argv[n++] = "--unshare-pid";
    argv[n++] = "--unshare-ipc";
    argv[n++] = "--unshare-uts";
    argv[n++] = "--unshare-cgroup-try";
    argv[n++] = "--new-session";
    argv[n++] = "--hostname";
    argv[n++] = st->hostname;
    argv[n++] = "--ro-bind";
    argv[n++] = "/usr";
    argv[n++] = "/usr";
    n = rc_local_usr_links(argv, n);
    n = rc_local_etc_binds(argv, n);
    argv[n++] = "--seccomp";
    argv[n++] = st->pass[0].num;
    argv[n++] = "--file";
    argv[n++] = st->pass[1].num;
    argv[n++] = "/etc/passwd";
    argv[n++] = "--file";
    argv[n++] = st->pass[2].num;
    argv[n++] = "/etc/group";
    argv[n++] = "--file";
    argv[n++] = st->pass[3].num;
    argv[n++] = "/etc/hosts";

    if (rc_local_resolv[0]) {
        argv[n++] = "--file";
        argv[n++] = st->pass[4].num;
        argv[n++] = "/etc/resolv.conf";

    } else if (access("/etc/resolv.conf", R_OK) == 0) {
        argv[n++] = "--ro-bind";
        argv[n++] = "/etc/resolv.conf";
        argv[n++] = "/etc/resolv.conf";
    }
    argv[n++] = "--proc";
    argv[n++] = "/proc";
    argv[n++] = "--dev";
    argv[n++] = "/dev";
    argv[n++] = "--tmpfs";
    argv[n++] = "/tmp";
    argv[n++] = "--tmpfs";
    argv[n++] = "/var/tmp";
    argv[n++] = "--tmpfs";
    argv[n++] = "/run";

    /* the same binary is also the workspace's `replicas` command */
    if (rc_local_bind(argv, &n, &st->binds, "--bind", st->rundir,
                      "/run/replicas", err, errlen) != 0
        || rc_local_bind(argv, &n, &st->binds, "--bind", st->root,
                         "/workspace", err, errlen) != 0
        || rc_local_bind(argv, &n, &st->binds, "--ro-bind", rc_local.engine,
                         RC_ENGINE_PATH, err, errlen) != 0
        || rc_local_bind(argv, &n, &st->binds, "--ro-bind", rc_local.engine,
                         RC_CLI_PATH, err, errlen) != 0
        || (rc_local.agents
            && rc_local_bind(argv, &n, &st->binds, "--ro-bind",
                             rc_local.agents, RC_AGENTS_PATH, err, errlen)
               != 0))
    {
        return -1;
    }
    argv[n++] = "--chdir";
    argv[n++] = (char *) (run->cwd ? run->cwd : "/workspace");
    argv[n++] = "--";

    if (run->argv) {
        for (i = 0; run->argv[i] && n < RC_ARGS_MAX - 1; i++) {
            argv[n++] = run->argv[i];
        }

    } else {
        argv[n++] = RC_ENGINE_PATH;
        argv[n++] = "serve";
        argv[n++] = "--listen";
        argv[n++] = "0.0.0.0:3737";
        argv[n++] = "--state-dir";
        argv[n++] = "/workspace/.replicas";
        argv[n++] = "--workdir";
        argv[n++] = "/workspace";
        argv[n++] = "--desktop";
        argv[n++] = rc_local.desktop && !run->no_desktop ? "on" : "off";
    }

    argv[n] = NULL;

    return 0;
}


/* the sandbox's environment: a fixed base, then the run's variables */
static void
rc_local_start_env(rc_sandbox_t *sb, const rc_sandbox_run_t *run,
    rc_local_start_t *st)
{
    int  n, i;

    snprintf(st->wsenv, sizeof(st->wsenv), "REPLICAS_WORKSPACE=%s",
             sb->workspace);

    n = 0;
    st->envp[n++] = "PATH=/opt/replicas/bin:/usr/local/sbin:/usr/local/bin:"
                    "/usr/sbin:/usr/bin:/sbin:/bin";
    st->envp[n++] = "HOME=/workspace/.home";
    st->envp[n++] = "LANG=C.UTF-8";
    st->envp[n++] = "TMPDIR=/tmp";
    st->envp[n++] = st->wsenv;

    for (i = 0; run->env && run->env[i] && n < RC_ENV_MAX - 1; i++) {
        st->envp[n++] = run->env[i];
    }

    st->envp[n] = NULL;
}


/*
 * The child that becomes bwrap (detached for an engine: the sandbox
 * outlives this worker).  Closes what it was given (netfd, infd, the
 * memfds; logfd too unless the run waits).  pid, or -1 with err: fork
 * failed, or the child said through the pipe why it could not exec.
 */
static pid_t
rc_local_start_spawn(rc_sandbox_t *sb, const rc_sandbox_run_t *run,
    rc_local_start_t *st, int netfd, int *logfd, int infd, int pfd[2],
    char *err, size_t errlen)
{
    int      e, status;
    pid_t    pid;
    ssize_t  got;

    pid = fork();

    if (pid == 0) {
        close(pfd[0]);

        if (!run->wait) {
            if (setsid() < 0) {
                _exit(127);
            }

            pid = fork();
            if (pid != 0) {
                _exit(pid < 0 ? 127 : 0);
            }
        }

        rc_local_exec(sb, netfd, *logfd, infd, pfd[1], st->pass, st->npass,
                      &st->binds, st->argv, st->envp);
    }

    close(pfd[1]);
    close(netfd);
    close(infd);

    if (!run->wait) {
        close(*logfd);
        *logfd = -1;
    }

    rc_local_close_fds(st->pass, st->npass);
    st->npass = 0;

    if (pid < 0) {
        close(pfd[0]);
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }

    /* EOF: bwrap was executed; an int: why not */
    got = read(pfd[0], &e, sizeof(e));
    close(pfd[0]);

    if (!run->wait) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            /* the intermediate child */
        }
    }

    if (got == sizeof(e)) {
        if (run->wait) {
            (void) waitpid(pid, &status, 0);
        }

        snprintf(err, errlen, "sandbox %s: cannot start: %s", sb->id,
                 strerror(e));
        return -1;
    }

    return pid;
}


/* a build: its command waited for within its deadline (124 past it),
 * heartbeats meanwhile; what it left running goes with it.  Its exit
 * status, or -1 with err when bwrap itself failed */
static int
rc_local_start_wait(rc_sandbox_t *sb, const rc_sandbox_run_t *run,
    pid_t pid, int logfd, off_t logstart, char *err, size_t errlen)
{
    int              e, status;
    pid_t            done;
    unsigned         waited;
    struct timespec  ts = { 0, 10 * 1000 * 1000 };

    for (waited = 0; ; waited += 10) {
        done = waitpid(pid, &status, WNOHANG);

        if (done == pid) {
            break;
        }

        if (done < 0 && errno != EINTR) {
            status = 127 << 8;
            break;
        }

        if (run->timeout_ms && waited >= run->timeout_ms) {
            (void) rc_cgroup_destroy(sb->id);
            (void) waitpid(pid, &status, 0);
            close(logfd);
            return 124;
        }

        /* a long warm hook: the job and its locks stay this worker's */
        if (run->tick && waited % 1000 == 0) {
            run->tick(run->tick_data);
        }

        nanosleep(&ts, NULL);
    }

    (void) rc_cgroup_destroy(sb->id);

    e = rc_local_bwrap_error(logfd, logstart, err, errlen);
    close(logfd);

    if (status != 0 && e) {
        return -1;
    }

    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }

    return 128 + WTERMSIG(status);
}


/*
 * Runs the engine (detached) or a build's command (waited for) in the
 * sandbox: its disk, cgroup and network made ready, then bwrap's
 * descriptors, argv and environment, the spawn, and for a build the wait.
 */
static int
rc_local_start(rc_sandbox_t *sb, const rc_sandbox_run_t *run, char *err,
    size_t errlen)
{
    int                netfd, logfd, infd, pfd[2];
    off_t              logstart;
    char               logpath[RC_SANDBOX_PATH_MAX];
    pid_t              pid;
    rc_local_start_t  *st;

    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    rc_local_root(sb, st->root, sizeof(st->root));
    /* a workspace's run directory is on its disk (within its quota) */
    rc_local_path(sb, sb->bind[0] || rc_local_legacy(sb) ? "run" : "disk/run",
                  st->rundir, sizeof(st->rundir));
    if (run->log_path) {
        snprintf(logpath, sizeof(logpath), "%s", run->log_path);
    } else {
        rc_local_path(sb, "engine.log", logpath, sizeof(logpath));
    }

    /* a sleeping workspace's disk is not mounted: again now */
    if ((sb->bind[0] == '\0' && rc_local_disk_up(sb, err, errlen) != 0)
        || rc_cgroup_create(sb->id, rc_local.memory_max, rc_local.pids_max,
                            rc_local.cpu_millis, err, errlen) != 0)
    {
        free(st);
        return -1;
    }

    /* after --sleep-all (auto/down) its network is gone: it comes back,
     * at the same address */
    netfd = rc_net_open(&rc_local_net, sb->id);

    if (netfd < 0) {
        if (rc_net_create(&rc_local_net, sb->id, sb->slot, err, errlen) != 0)
        {
            (void) rc_cgroup_destroy(sb->id);
            free(st);
            return -1;
        }

        netfd = rc_net_open(&rc_local_net, sb->id);
    }

    if (netfd < 0) {
        snprintf(err, errlen, "sandbox %s has no network namespace", sb->id);
        (void) rc_cgroup_destroy(sb->id);
        free(st);
        return -1;
    }

    logfd = infd = -1;

    if (rc_local_start_fds(sb, st, err, errlen) != 0) {
        goto failed;
    }

    logfd = open(logpath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    infd = open(run->stdin_path ? run->stdin_path : "/dev/null",
                O_RDONLY | O_CLOEXEC);

    if (logfd < 0 || infd < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "sandbox %s: %s", sb->id, strerror(errno));
        goto failed;
    }

    if (!run->wait) {
        (void) dprintf(logfd, RC_LOCAL_MARK "\n");
    }

    logstart = lseek(logfd, 0, SEEK_END);

    if (rc_local_start_argv(sb, run, st, err, errlen) != 0) {
        close(pfd[0]);
        close(pfd[1]);
        goto failed;
    }

    rc_local_start_env(sb, run, st);

    /* from here the spawn owns netfd, infd and the memfds */
    pid = rc_local_start_spawn(sb, run, st, netfd, &logfd, infd, pfd, err,
                               errlen);
    netfd = infd = -1;

    if (pid < 0) {
        goto failed;
    }

    free(st);

    if (!run->wait) {
        return 0;
    }

    return rc_local_start_wait(sb, run, pid, logfd, logstart, err, errlen);

failed:

    rc_local_close_fds(st->pass, st->npass);

    if (netfd >= 0) {
        close(netfd);
    }

    if (logfd >= 0) {
        close(logfd);
    }

    if (infd >= 0) {
        close(infd);
    }

    (void) rc_cgroup_destroy(sb->id);
    free(st);

    return -1;
}


static int
rc_local_stop(rc_sandbox_t *sb)
{
    int  rc;

    rc = rc_cgroup_destroy(sb->id);

    /* a sleeping sandbox keeps its disk image, not its mounts */
    if (rc_local_disk_down(sb) != 0) {
        rc = -1;
    }

    return rc;
}


/* the cgroup's freezer: a frozen sandbox keeps its mounts and network */
static int
rc_local_freeze(rc_sandbox_t *sb, int frozen)
{
    return rc_cgroup_freeze(sb->id, frozen);
}


static int
rc_local_destroy(rc_sandbox_t *sb)
{
    char  dir[RC_SANDBOX_PATH_MAX];

    (void) rc_cgroup_destroy(sb->id);

    rc_local_path(sb, NULL, dir, sizeof(dir));

    /* unmounted before anything is removed: never through a mount */
    if (rc_local_disk_down(sb) != 0) {
        return -1;
    }

    rc_net_destroy(&rc_local_net, sb->id);

    return rc_rmtree(dir);
}


static const char *
rc_local_address(rc_sandbox_t *sb)
{
    return sb->addr;
}


/* why the last start's processes are gone, when bwrap said why: the
 * first line after the engine log's last start mark */
static void
rc_local_why(rc_sandbox_t *sb, char *buf, size_t size)
{
    int      fd;
    char     path[RC_SANDBOX_PATH_MAX], tail[8192], *mark, *next;
    off_t    end, from;
    ssize_t  got;

    buf[0] = '\0';
    rc_local_path(sb, "engine.log", path, sizeof(path));

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }

    end = lseek(fd, 0, SEEK_END);
    from = end > (off_t) sizeof(tail) - 1 ? end - (off_t) sizeof(tail) + 1
                                           : 0;
    got = pread(fd, tail, sizeof(tail) - 1, from);
    tail[got > 0 ? got : 0] = '\0';

    mark = NULL;
    for (next = strstr(tail, RC_LOCAL_MARK "\n"); next;
         next = strstr(next + 1, RC_LOCAL_MARK "\n"))
    {
        mark = next;
    }

    if (mark) {
        (void) rc_local_bwrap_error(fd, from + (mark - tail)
                                        + sizeof(RC_LOCAL_MARK), buf, size);
    }

    close(fd);
}


static int
rc_local_health(rc_sandbox_t *sb, rc_sandbox_health_t *h, unsigned what)
{
    char      disk[RC_SANDBOX_PATH_MAX];
    uint64_t  used, total, memory, cpu;

    memset(h, 0, sizeof(*h));
    h->running = rc_cgroup_count(sb->id) > 0;
    h->oom_kills = rc_cgroup_oom_kills(sb->id);

    if (!h->running) {
        rc_local_why(sb, h->why, sizeof(h->why));
    }

    if ((what & RC_HEALTH_FROZEN) && h->running) {
        h->frozen = rc_cgroup_frozen(sb->id);
    }

    if (!(what & RC_HEALTH_USAGE)) {
        return 0;
    }

    rc_local_path(sb, "disk", disk, sizeof(disk));

    if (rc_disk_usage(disk, &used, &total) == 0) {
        h->disk_bytes = used;
        h->disk_limit_bytes = total;
    }

    rc_cgroup_usage(sb->id, &memory, &cpu);
    h->memory_bytes = memory;
    h->memory_limit_bytes = rc_local.memory_max;
    h->cpu_usec = cpu;

    return 0;
}


/*
 * Host hygiene.  A sandbox's processes, disk mount and network namespace
 * are host state; its disk (upper layer) and record are not.  --sleep-all
 * (auto/down) releases all three of every sandbox, start brings them
 * back; a worker that starts sweeps what belongs to no recorded sandbox
 * (a crashed worker's half-made ones), and auto/down without Redis sweeps
 * everything.
 */
static void
rc_local_release_id(const char *id)
{
    rc_sandbox_t  sb;

    memset(&sb, 0, sizeof(sb));
    snprintf(sb.id, sizeof(sb.id), "%s", id);

    (void) rc_cgroup_destroy(id);
    (void) rc_local_disk_down(&sb);
    rc_net_destroy(&rc_local_net, id);
}


void
rc_sandbox_local_release(rc_sandbox_t *sb)
{
    rc_local_release_id(sb->id);
}


typedef struct {
    char      (*ids)[RC_SANDBOX_ID_LEN + 1];
    unsigned    n;
    unsigned    size;
} rc_local_ids_t;


static void
rc_local_ids_add(const char *id, void *data)
{
    size_t           i, len;
    rc_local_ids_t  *set = data;
    void            *p;

    len = strlen(id);
    if (len == 0 || len > RC_SANDBOX_ID_LEN
        || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") != len)
    {
        return;
    }

    for (i = 0; i < set->n; i++) {
        if (strcmp(set->ids[i], id) == 0) {
            return;
        }
    }

    if (set->n == set->size) {
        p = realloc(set->ids, (set->size * 2 + 16) * sizeof(set->ids[0]));
        if (p == NULL) {
            return;
        }
        set->ids = p;
        set->size = set->size * 2 + 16;
    }

    memcpy(set->ids[set->n++], id, len + 1);
}


/* "<home>/sandboxes/<id>/merged" and ".../disk" mounts, from
 * /proc/self/mountinfo */
static void
rc_local_list_mounts(rc_local_ids_t *set)
{
    char    line[4096], point[4096], prefix[RC_SANDBOX_PATH_MAX + 16];
    char    home[PATH_MAX], *id, *slash;
    FILE   *f;
    size_t  plen;

    if (realpath(rc_local.home, home) == NULL) {
        return;
    }

    plen = snprintf(prefix, sizeof(prefix), "%s/sandboxes/", home);

    f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL) {
        return;
    }

    /* "id parent major:minor root mountpoint ..." (no space in our
     * paths to unescape: a home with one is not matched, and left) */
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1
            || strncmp(point, prefix, plen) != 0)
        {
            continue;
        }

        id = point + plen;
        slash = strchr(id, '/');

        if (slash && (strcmp(slash, "/merged") == 0
                      || strcmp(slash, "/disk") == 0))
        {
            *slash = '\0';
            rc_local_ids_add(id, set);
        }
    }

    fclose(f);
}


/* what readdir finds in dir, with "<prefix>" cut off names that have it */
static void
rc_local_list_dir(const char *dir, const char *prefix, rc_local_ids_t *set)
{
    DIR            *d;
    size_t          plen;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    plen = strlen(prefix);

    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) == 0) {
            rc_local_ids_add(de->d_name + plen, set);
        }
    }

    closedir(d);
}


unsigned
rc_sandbox_local_sweep(int (*keep)(const char *id, void *data), void *data)
{
    char            path[96];
    unsigned        i, n;
    rc_local_ids_t  set;

    memset(&set, 0, sizeof(set));

    /* first what the host has, then (keep) what is recorded: a sandbox
     * made meanwhile is recorded before it exists, so it is not listed */
    rc_local_list_mounts(&set);
    snprintf(path, sizeof(path), "%s-", rc_local_net.name);
    rc_local_list_dir("/run/netns", path, &set);
    snprintf(path, sizeof(path), "/sys/class/net/%sbr/brif", rc_local_net.name);
    rc_local_list_dir(path, "v", &set);
    rc_cgroup_list(rc_local_ids_add, &set);

    n = 0;

    for (i = 0; i < set.n; i++) {
        if (keep && keep(set.ids[i], data)) {
            continue;
        }

        rc_local_release_id(set.ids[i]);
        n++;
    }

    free(set.ids);

    return n;
}


const rc_sandbox_driver_t  rc_sandbox_local = {
    "local",
    rc_local_create,
    rc_local_start,
    rc_local_stop,
    rc_local_freeze,
    rc_local_destroy,
    rc_local_address,
    rc_local_health,
    rc_local_root
};
