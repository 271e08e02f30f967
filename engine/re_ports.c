/* Listening TCP ports: see re_ports.h. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re_ports.h"


#define RE_TCP_LISTEN  0x0A     /* the kernel's TCP_LISTEN in "st" */


static size_t
re_ports_add(unsigned *ports, size_t n, size_t max, unsigned port)
{
    size_t  i, j;

    for (i = 0; i < n && ports[i] < port; i++) {
        /* find the place: the list stays sorted */
    }

    if ((i < n && ports[i] == port) || n >= max) {
        return n;
    }

    for (j = n; j > i; j--) {
        ports[j] = ports[j - 1];
    }

    ports[i] = port;

    return n + 1;
}


/*
 * Lines look like
 *   "  0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 ..."
 * (tcp6 has 32 hex digits of address): the local port is the hex after
 * the first address's ':', the state the 4th field.
 */
size_t
re_ports_parse(const char *text, unsigned *ports, size_t n, size_t max)
{
    char           local[80], remote[80];
    const char    *line, *colon;
    unsigned       state;
    unsigned long  port;
    char          *end;

    for (line = text; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n') {
            line++;
        }

        if (sscanf(line, " %*[0-9]: %79s %79s %x", local, remote, &state) != 3
            || state != RE_TCP_LISTEN)
        {
            continue;
        }

        colon = strrchr(local, ':');
        if (colon == NULL) {
            continue;
        }

        port = strtoul(colon + 1, &end, 16);

        if (*end == '\0' && port > 0 && port < 65536) {
            n = re_ports_add(ports, n, max, (unsigned) port);
        }
    }

    return n;
}


size_t
re_ports_listening(unsigned *ports, size_t max)
{
    static const char  *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };

    char    *buf;
    size_t   n, i, len;
    FILE    *f;

    n = 0;
    buf = malloc(256 * 1024);
    if (buf == NULL) {
        return 0;
    }

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        f = fopen(files[i], "re");
        if (f == NULL) {
            continue;
        }

        /* a workspace has few sockets: the first 256 KiB hold the
         * listening ones, which the kernel lists first */
        len = fread(buf, 1, 256 * 1024 - 1, f);
        fclose(f);
        buf[len] = '\0';

        n = re_ports_parse(buf, ports, n, max);
    }

    free(buf);

    return n;
}
