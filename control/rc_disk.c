/* Loop-mounted filesystem images for sandboxes' disks: see rc_disk.h. */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rc_disk.h"
#include "rc_exec.h"


#define RC_LOOP_MAJOR  7


int
rc_disk_make(const char *image, uint64_t bytes, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
    int   fd;
    char  owner[64];

    /* a new file, not the old one truncated: a loop device still on the
     * old one (a lazy unmount) must not be taken for this one's */
    (void) unlink(image);

    fd = open(image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0 || ftruncate(fd, (off_t) bytes) != 0) {
        snprintf(err, errlen, "%s: %s", image, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }

    close(fd);

    /*
     * No blocks reserved for root (nobody is root inside), no discard
     * pass, and from 1 GiB on a journal of 16 MiB (mkfs would give a
     * 10 GiB one 64 MiB, taken from the host at once): a fresh image
     * costs the host a few MiB.
     */
    snprintf(owner, sizeof(owner), "root_owner=%u:%u,nodiscard",
             (unsigned) uid, (unsigned) gid);

    if (bytes >= (1ULL << 30)) {
        return rc_runl(err, errlen, "mkfs.ext4", "-q", "-F", "-m", "0", "-J",
                       "size=16", "-E", owner, image, NULL);
    }

    return rc_runl(err, errlen, "mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                   owner, image, NULL);
}


/* a free loop device set up on fd, its fd; the device node is made if
 * /dev lacks it (a container's static /dev) */
static int
rc_disk_loop(int fd, char *dev, size_t size)
{
    int                 ctl, lfd, n, tries;
    struct loop_config  cfg;

    ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) {
        return -1;
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.fd = fd;
    /* detached by the kernel when its last user (the mount) goes */
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;

    /* another worker may take the same free one first: EBUSY, again */
    for (tries = 0; tries < 16; tries++) {
        n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0) {
            break;
        }

        snprintf(dev, size, "/dev/loop%d", n);

        if (mknod(dev, S_IFBLK | 0600, makedev(RC_LOOP_MAJOR, n)) != 0
            && errno != EEXIST)
        {
            break;
        }

        lfd = open(dev, O_RDWR | O_CLOEXEC);
        if (lfd < 0) {
            break;
        }

        if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
            close(ctl);
            return lfd;
        }

        close(lfd);

        if (errno != EBUSY) {
            break;
        }
    }

    n = errno;
    close(ctl);
    errno = n;

    return -1;
}


/*
 * The loop device still on the image, if any: an unmount is lazy, and a
 * namespace of another program may keep the filesystem a moment longer.
 * Mounting that device again shares its filesystem; a second device on
 * the same image would mount it twice and corrupt it.
 */
static int
rc_disk_loop_of(int fd, char *dev, size_t size)
{
    int                  lfd, n;
    DIR                 *d;
    struct stat          st;
    struct dirent       *de;
    struct loop_info64   info;

    if (fstat(fd, &st) != 0 || (d = opendir("/sys/block")) == NULL) {
        return -1;
    }

    lfd = -1;

    while ((de = readdir(d)) != NULL) {
        if (sscanf(de->d_name, "loop%d", &n) != 1) {
            continue;
        }

        snprintf(dev, size, "/dev/loop%d", n);
        lfd = open(dev, O_RDWR | O_CLOEXEC);

        if (lfd >= 0 && ioctl(lfd, LOOP_GET_STATUS64, &info) == 0
            && info.lo_device == st.st_dev && info.lo_inode == st.st_ino)
        {
            break;
        }

        if (lfd >= 0) {
            close(lfd);
            lfd = -1;
        }
    }

    closedir(d);

    return lfd;
}


int
rc_disk_mount(const char *image, const char *dir, char *err, size_t errlen)
{
    int   fd, lfd, rc;
    char  dev[32];

    if (rc_disk_is_mount(dir)) {
        return 0;
    }

    fd = open(image, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", image, strerror(errno));
        return -1;
    }

    lfd = rc_disk_loop_of(fd, dev, sizeof(dev));

    if (lfd < 0) {
        lfd = rc_disk_loop(fd, dev, sizeof(dev));
    }

    close(fd);

    if (lfd < 0) {
        snprintf(err, errlen, "no loop device for %s: %s", image,
                 strerror(errno));
        return -1;
    }

    /* noinit_itable: the image is sparse, its inode tables read as zeros
     * already; zeroing them would cost the host their size */
    rc = mount(dev, dir, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME,
               "noinit_itable");
    if (rc != 0) {
        snprintf(err, errlen, "mount %s on %s: %s", image, dir,
                 strerror(errno));
    }

    /* the mount holds the device now (or nothing does: detached) */
    close(lfd);

    return rc;
}


int
rc_disk_is_mount(const char *path)
{
    char         parent[4096];
    struct stat  a, b;

    if (snprintf(parent, sizeof(parent), "%s/..", path) >= (int) sizeof(parent)
        || stat(path, &a) != 0 || stat(parent, &b) != 0)
    {
        return 0;
    }

    return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}


int
rc_disk_usage(const char *dir, uint64_t *used, uint64_t *total)
{
    struct statvfs  vfs;

    if (!rc_disk_is_mount(dir) || statvfs(dir, &vfs) != 0) {
        return -1;
    }

    *total = (uint64_t) vfs.f_blocks * vfs.f_frsize;
    *used = (uint64_t) (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;

    return 0;
}
