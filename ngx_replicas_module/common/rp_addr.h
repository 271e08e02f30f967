/*
 * IP addresses of repository hosts, as control checks them before any
 * fetch (and the gateway, for literal ones, at create).  A tenant names
 * the repository and control fetches it as root from the host's network:
 * an address of loopback, the LAN, link-local (cloud metadata) or any
 * other special-purpose range (RFC 6890 and its updates) would let the
 * tenant read what only the machine can reach.  Pure: no lookups here.
 */

#ifndef RP_ADDR_H
#define RP_ADDR_H

#include <stddef.h>
#include <stdint.h>


typedef struct {
    int      family;          /* 4 or 6 */
    uint8_t  b[16];           /* network order; IPv4 in b[0..3] */
} rp_addr_t;

typedef struct {
    rp_addr_t  addr;
    unsigned   bits;
} rp_cidr_t;


/* a literal address: IPv6 (brackets allowed) or IPv4 in every form
 * inet_aton and getaddrinfo take ("127.1", "0x7f000001", "017700000001",
 * "2130706433"): 0, else -1 (a name) */
int rp_addr_parse(const char *s, size_t len, rp_addr_t *a);

/* the special range a is in ("loopback", "private", ...), or NULL for a
 * global unicast address */
const char *rp_addr_special(const rp_addr_t *a);

/* 1 if a is in a range no operator setting makes a git host: loopback,
 * unspecified / "this network", link-local, multicast, reserved and
 * broadcast, and every IPv6 form embedding an IPv4 address (mapped,
 * compatible, NAT64, 6to4, Teredo) */
int rp_addr_never(const rp_addr_t *a);

/* "10.0.0.0/8", "fd00::/8", "192.168.1.7" (a host): 0, else -1 */
int rp_cidr_parse(const char *s, rp_cidr_t *c);

/* 1 if a is inside c; an IPv4-mapped IPv6 address matches IPv4 ranges */
int rp_cidr_match(const rp_cidr_t *c, const rp_addr_t *a);

/* a as text (INET6_ADDRSTRLEN is enough) */
void rp_addr_format(const rp_addr_t *a, char *buf, size_t len);

#endif /* RP_ADDR_H */
