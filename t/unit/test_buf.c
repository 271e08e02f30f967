/* The bounded answer buffer (common/rp_buf.c). */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "common/rp_buf.h"


int
main(void)
{
    rp_buf_t  b;

    memset(&b, 0, sizeof(b));
    b.max = 10;

    ok(rp_buf_append("hello", 1, 5, &b) == 5, "appends");
    ok(rp_buf_append(" you", 2, 2, &b) == 4, "size times nmemb");
    ok(b.len == 9 && strcmp(b.data, "hello you") == 0, "NUL-terminated");
    ok(rp_buf_append("!!", 1, 2, &b) == 0, "refused past max");
    ok(b.len == 9, "and left as it was");
    ok(rp_buf_append("!", 1, 1, &b) == 1 && b.len == 10, "up to max exactly");
    ok(rp_buf_append("x", (size_t) -1, 2, &b) == 0, "an overflowing size refused");
    ok(rp_buf_append("", 1, 0, &b) == 0 && b.len == 10, "nothing appends nothing");

    free(b.data);

    return done_testing();
}
