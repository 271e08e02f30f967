/*
 * Sandbox networking for the local driver.  One bridge per deployment
 * holds the host's address (the first of the range); every sandbox gets
 * its own network namespace with one end of a veth pair and its own
 * address from the range.  Bridge ports are isolated, so sandboxes cannot
 * reach one another; an nftables table lets them reach the host only on
 * the ports listed (the gateway, for the engine's API calls) and nothing
 * is forwarded, so Redis, control and other machines are out of reach.
 */

#ifndef RC_NET_H
#define RC_NET_H

#include <stddef.h>
#include <stdint.h>

#define RC_NET_PORTS_MAX  8


typedef struct {
    char      name[8];             /* deployment's tag: bridge "<name>br" */
    uint32_t  base;                /* network address, host byte order */
    unsigned  prefix;              /* 16 to 28 */
    unsigned  nports;
    unsigned  ports[RC_NET_PORTS_MAX];
    int       egress;              /* to public addresses, NATed */
    const char *dns;               /* resolvers sandboxes may ask (port
                                      53), "a, b"; NULL: the host's own
                                      (/etc/resolv.conf); "": none */
} rc_net_conf_t;


/* "10.213.0.0/16" and "rp0"; 0 or -1 */
int rc_net_conf_parse(rc_net_conf_t *nc, const char *name, const char *cidr,
    char *err, size_t errlen);

/* the bridge, its address and the firewall table; idempotent */
int rc_net_setup(const rc_net_conf_t *nc, char *err, size_t errlen);
/* removes both (tests, auto/down) */
void rc_net_teardown(const rc_net_conf_t *nc);

/* sandbox addresses: slots 0 .. rc_net_slots() - 1 */
unsigned rc_net_slots(const rc_net_conf_t *nc);
void rc_net_slot_addr(const rc_net_conf_t *nc, unsigned slot, char *buf,
    size_t size);
void rc_net_host_addr(const rc_net_conf_t *nc, char *buf, size_t size);

/* the namespace "<name>-<sandbox>" with its veth and address */
int rc_net_create(const rc_net_conf_t *nc, const char *sandbox,
    unsigned slot, char *err, size_t errlen);
void rc_net_destroy(const rc_net_conf_t *nc, const char *sandbox);
/* an fd on the namespace for setns(2), or -1 */
int rc_net_open(const rc_net_conf_t *nc, const char *sandbox);

#endif /* RC_NET_H */
