/* Listening ports from /proc/net/tcp text (engine/re_ports.c). */

#include <string.h>

#include "tap.h"
#include "re_ports.h"


int
main(void)
{
    unsigned  ports[4];
    size_t    n;

    static const char  tcp[] =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
        "retrnsmt   uid  timeout inode\n"
        "   0: 00000000:0E99 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000  1000        0 1 1 0000000000000000 100 0 0 10 0\n"
        "   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000  1000        0 2 1 0000000000000000 100 0 0 10 0\n"
        "   2: 0100007F:0BB8 0100007F:A0B2 01 00000000:00000000 00:00000000 "
        "00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1\n";
    static const char  tcp6[] =
        "  sl  local_address                         remote_address "
        "st ...\n"
        "   0: 00000000000000000000000000000000:1F90 "
        "00000000000000000000000000000000:0000 0A 00000000:00000000 x\n"
        "   1: 00000000000000000000000000000000:0BB8 "
        "00000000000000000000000000000000:0000 0A 00000000:00000000 x\n";

    n = re_ports_parse(tcp, ports, 0, 4);
    ok(n == 2 && ports[0] == 3000 && ports[1] == 3737,
       "listening sockets only, sorted (3000, 3737)");

    n = re_ports_parse(tcp6, ports, n, 4);
    ok(n == 3 && ports[2] == 8080, "tcp6 added without duplicates");

    n = re_ports_parse("garbage\n0: zz:zz zz 0A\n\n", ports, 0, 4);
    ok(n == 0, "garbage ignored");

    n = re_ports_parse(tcp, ports, 0, 1);
    ok(n == 1, "at most max");

    n = re_ports_parse("   0: 00000000:0000 00000000:0000 0A\n", ports, 0, 4);
    ok(n == 0, "port 0 is not a port");

    return done_testing();
}
