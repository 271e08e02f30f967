/*
 * Sandbox networking: see rc_net.h.  Links are made with iproute2 and the
 * firewall with nft: this runs when sandboxes are created, never on a
 * request path, and the tools' error messages are the clearest there are.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rc_exec.h"
#include "rc_net.h"


int
rc_net_conf_parse(rc_net_conf_t *nc, const char *name, const char *cidr,
    char *err, size_t errlen)
{
    char            buf[32], *slash;
    size_t          i;
    unsigned long   prefix;
    struct in_addr  in;

    memset(nc, 0, sizeof(*nc));

    if (strlen(name) == 0 || strlen(name) >= sizeof(nc->name)) {
        snprintf(err, errlen, "network name must be 1 to %zu characters",
                 sizeof(nc->name) - 1);
        return -1;
    }

    for (i = 0; name[i]; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= '0' && name[i] <= '9')))
        {
            snprintf(err, errlen, "network name: lowercase letters and "
                     "digits only");
            return -1;
        }
    }

    strcpy(nc->name, name);

    if (strlen(cidr) >= sizeof(buf) || (slash = strchr(cidr, '/')) == NULL) {
        snprintf(err, errlen, "sandbox range must look like 10.213.0.0/16");
        return -1;
    }

    memcpy(buf, cidr, slash - cidr);
    buf[slash - cidr] = '\0';
    prefix = strtoul(slash + 1, NULL, 10);

    if (inet_pton(AF_INET, buf, &in) != 1 || prefix < 16 || prefix > 28) {
        snprintf(err, errlen, "sandbox range must be an IPv4 network from /16 "
                 "to /28, like 10.213.0.0/16");
        return -1;
    }

    nc->prefix = (unsigned) prefix;
    nc->base = ntohl(in.s_addr) & ~((1u << (32 - prefix)) - 1);

    return 0;
}


static void
rc_net_format(uint32_t addr, char *buf, size_t size)
{
    struct in_addr  in;

    in.s_addr = htonl(addr);
    inet_ntop(AF_INET, &in, buf, size);
}


unsigned
rc_net_slots(const rc_net_conf_t *nc)
{
    /* less network, host (the bridge) and broadcast */
    return (1u << (32 - nc->prefix)) - 3;
}


void
rc_net_slot_addr(const rc_net_conf_t *nc, unsigned slot, char *buf,
    size_t size)
{
    rc_net_format(nc->base + 2 + slot, buf, size);
}


void
rc_net_host_addr(const rc_net_conf_t *nc, char *buf, size_t size)
{
    rc_net_format(nc->base + 1, buf, size);
}


/* the destinations sandboxes never reach, with egress or without: the
 * special-purpose ranges of RFC 6890 (documentation and benchmarking
 * ones too: some sites number their own networks in them) and multicast */
#define RC_NET_NOT_PUBLIC                                                     \
    "0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, "     \
    "172.16.0.0/12, 192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24, "             \
    "192.168.0.0/16, 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24, "        \
    "224.0.0.0/4, 240.0.0.0/4"


/* the IPv4 nameservers of /etc/resolv.conf (what sandboxes see too, /etc
 * being the host's) as "a, b"; how many (loopback ones cannot be reached
 * from a sandbox and are left out) */
static int
rc_net_resolvers(char *out, size_t size)
{
    int             n;
    char            line[256], ip[64];
    FILE           *f;
    size_t          len;
    struct in_addr  in;

    out[0] = '\0';
    f = fopen("/etc/resolv.conf", "re");
    if (f == NULL) {
        return 0;
    }

    n = 0;
    len = 0;

    while (fgets(line, sizeof(line), f) && n < 3) {
        if (sscanf(line, " nameserver %63s", ip) != 1
            || inet_pton(AF_INET, ip, &in) != 1
            || (ntohl(in.s_addr) >> 24) == 127
            || len + strlen(ip) + 3 > size)
        {
            continue;
        }

        len += snprintf(out + len, size - len, "%s%s", n ? ", " : "", ip);
        n++;
    }

    fclose(f);

    return n;
}


static int
rc_net_forwarding(char *err, size_t errlen)
{
    int  fd;

    fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);

    if (fd < 0 || write(fd, "1\n", 2) != 2) {
        snprintf(err, errlen, "cannot turn IPv4 forwarding on: %s",
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }

    close(fd);

    return 0;
}


int
rc_net_setup(const rc_net_conf_t *nc, char *err, size_t errlen)
{
    char      bridge[16], host[24], cidr[32], rules[4096], ports[128];
    char      net[32], dns[160];
    char     *argv[] = { "nft", "-f", "-", NULL };
    size_t    len;
    unsigned  i;

    snprintf(bridge, sizeof(bridge), "%sbr", nc->name);
    rc_net_host_addr(nc, host, sizeof(host));
    snprintf(cidr, sizeof(cidr), "%s/%u", host, nc->prefix);
    rc_net_format(nc->base, net, sizeof(net));
    snprintf(net + strlen(net), sizeof(net) - strlen(net), "/%u", nc->prefix);

    /* "exists" is fine: several workers on one machine share the bridge */
    (void) rc_runl(err, errlen, "ip", "link", "add", bridge, "type",
                   "bridge", NULL);

    if (rc_runl(err, errlen, "ip", "addr", "replace", cidr, "dev", bridge,
                NULL) != 0
        || rc_runl(err, errlen, "ip", "link", "set", bridge, "up", NULL) != 0)
    {
        return -1;
    }

    len = 0;
    ports[0] = '\0';

    for (i = 0; i < nc->nports; i++) {
        len += snprintf(ports + len, sizeof(ports) - len, "%s%u",
                        i ? ", " : "", nc->ports[i]);
    }

    /*
     * Replaced as a whole, atomically ("add" makes the delete safe on a
     * first run).  Sandboxes may answer the host's connections and reach
     * the listed ports of the host's bridge address, nothing else of the
     * host; through it, public addresses only with egress (below).
     */
    len = snprintf(rules, sizeof(rules),
        "add table inet replicas_%s\n"
        "delete table inet replicas_%s\n"
        "table inet replicas_%s {\n"
        "  chain input {\n"
        "    type filter hook input priority -10; policy accept;\n"
        "    iifname \"%s\" ct state established,related accept\n",
        nc->name, nc->name, nc->name, bridge);

    if (nc->nports) {
        len += snprintf(rules + len, sizeof(rules) - len,
            "    iifname \"%s\" ip daddr %s tcp dport { %s } accept\n",
            bridge, host, ports);
    }

    len += snprintf(rules + len, sizeof(rules) - len,
        "    iifname \"%s\" drop\n"
        "  }\n",
        bridge);

    if (!nc->egress) {
        snprintf(rules + len, sizeof(rules) - len,
            "  chain forward {\n"
            "    type filter hook forward priority -10; policy accept;\n"
            "    iifname \"%s\" drop\n"
            "    oifname \"%s\" drop\n"
            "  }\n"
            "}\n",
            bridge, bridge);

    } else {
        /*
         * Out to the internet (packages, git hosts, model APIs), NATed
         * behind the host; never to a private, shared, link-local,
         * loopback or multicast address (other machines of the network,
         * cloud metadata at 169.254.169.254), and nothing comes in but
         * answers.  IPv6 is not forwarded.
         */
        len += snprintf(rules + len, sizeof(rules) - len,
            "  chain forward {\n"
            "    type filter hook forward priority -10; policy accept;\n"
            "    oifname \"%s\" ct state established,related accept\n"
            "    oifname \"%s\" drop\n"
            "    iifname \"%s\" meta nfproto ipv6 reject\n",
            bridge, bridge, bridge);

        /* names resolve: the host's own resolvers (often on a private
         * address) on port 53, and nothing else of theirs */
        if (nc->dns) {
            snprintf(dns, sizeof(dns), "%s", nc->dns);
        } else {
            (void) rc_net_resolvers(dns, sizeof(dns));
        }

        if (dns[0]) {
            len += snprintf(rules + len, sizeof(rules) - len,
                "    iifname \"%s\" ip daddr { %s } udp dport 53 accept\n"
                "    iifname \"%s\" ip daddr { %s } tcp dport 53 accept\n",
                bridge, dns, bridge, dns);
        }

        /* refused, not dropped: a tool that tries fails at once */
        snprintf(rules + len, sizeof(rules) - len,
            "    iifname \"%s\" ip daddr { %s } reject with icmpx "
            "admin-prohibited\n"
            "    iifname \"%s\" accept\n"
            "  }\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority 100; policy accept;\n"
            "    ip saddr %s oifname != \"%s\" masquerade\n"
            "  }\n"
            "}\n",
            bridge, RC_NET_NOT_PUBLIC, bridge, net, bridge);
    }

    if (rc_run(argv, rules, err, errlen) != 0) {
        return -1;
    }

    /* forwarding on: without it nothing leaves (with egress only) */
    if (nc->egress && rc_net_forwarding(err, errlen) != 0) {
        return -1;
    }

    return 0;
}


void
rc_net_teardown(const rc_net_conf_t *nc)
{
    char  bridge[16], table[32], err[256];

    snprintf(bridge, sizeof(bridge), "%sbr", nc->name);
    snprintf(table, sizeof(table), "replicas_%s", nc->name);

    (void) rc_runl(err, sizeof(err), "nft", "delete", "table", "inet", table,
                   NULL);
    (void) rc_runl(err, sizeof(err), "ip", "link", "del", bridge, NULL);
}


static void
rc_net_names(const rc_net_conf_t *nc, const char *sandbox, char *ns,
    size_t nslen, char *host_if, char *peer_if)
{
    snprintf(ns, nslen, "%s-%s", nc->name, sandbox);
    /* interface names are at most 15 bytes: sandbox ids are 12 */
    snprintf(host_if, 16, "v%s", sandbox);
    snprintf(peer_if, 16, "p%s", sandbox);
}


/* with egress: out through the host's bridge address */
static int
rc_net_default_route(const rc_net_conf_t *nc, const char *ns, char *err,
    size_t errlen)
{
    char  host[24];

    rc_net_host_addr(nc, host, sizeof(host));

    return rc_runl(err, errlen, "ip", "-n", ns, "route", "replace",
                   "default", "via", host, "dev", "eth0", NULL);
}


int
rc_net_create(const rc_net_conf_t *nc, const char *sandbox, unsigned slot,
    char *err, size_t errlen)
{
    char  ns[64], host_if[16], peer_if[16], bridge[16], addr[24], cidr[32];

    rc_net_names(nc, sandbox, ns, sizeof(ns), host_if, peer_if);
    snprintf(bridge, sizeof(bridge), "%sbr", nc->name);
    rc_net_slot_addr(nc, slot, addr, sizeof(addr));
    snprintf(cidr, sizeof(cidr), "%s/%u", addr, nc->prefix);

    /* a retried job finds the pieces of its first attempt: start over */
    rc_net_destroy(nc, sandbox);

    if (rc_runl(err, errlen, "ip", "netns", "add", ns, NULL) != 0
        || rc_runl(err, errlen, "ip", "link", "add", host_if, "type", "veth",
                   "peer", "name", peer_if, NULL) != 0
        || rc_runl(err, errlen, "ip", "link", "set", peer_if, "netns", ns,
                   NULL) != 0
        || rc_runl(err, errlen, "ip", "link", "set", host_if, "master",
                   bridge, NULL) != 0
        || rc_runl(err, errlen, "ip", "link", "set", "dev", host_if, "type",
                   "bridge_slave", "isolated", "on", NULL) != 0
        || rc_runl(err, errlen, "ip", "link", "set", host_if, "up", NULL) != 0
        || rc_runl(err, errlen, "ip", "-n", ns, "link", "set", peer_if,
                   "name", "eth0", NULL) != 0
        || rc_runl(err, errlen, "ip", "-n", ns, "addr", "add", cidr, "dev",
                   "eth0", NULL) != 0
        || rc_runl(err, errlen, "ip", "-n", ns, "link", "set", "eth0", "up",
                   NULL) != 0
        || rc_runl(err, errlen, "ip", "-n", ns, "link", "set", "lo", "up",
                   NULL) != 0
        || (nc->egress
            && rc_net_default_route(nc, ns, err, errlen) != 0))
    {
        rc_net_destroy(nc, sandbox);
        return -1;
    }

    return 0;
}


void
rc_net_destroy(const rc_net_conf_t *nc, const char *sandbox)
{
    char  ns[64], host_if[16], peer_if[16], err[256];

    rc_net_names(nc, sandbox, ns, sizeof(ns), host_if, peer_if);

    /* deleting one end of a veth pair deletes both */
    (void) rc_runl(err, sizeof(err), "ip", "link", "del", host_if, NULL);
    (void) rc_runl(err, sizeof(err), "ip", "netns", "del", ns, NULL);
}


int
rc_net_open(const rc_net_conf_t *nc, const char *sandbox)
{
    char  path[96];

    snprintf(path, sizeof(path), "/run/netns/%s-%s", nc->name, sandbox);

    return open(path, O_RDONLY | O_CLOEXEC);
}
