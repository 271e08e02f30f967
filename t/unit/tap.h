/* A few lines of TAP output for the C unit tests, so prove runs them. */

#ifndef RP_TAP_H
#define RP_TAP_H

#include <stdio.h>

static int  tap_n, tap_failed;

#define ok(cond, ...)                                                        \
    do {                                                                     \
        tap_n++;                                                             \
        if (!(cond)) {                                                       \
            tap_failed++;                                                    \
            printf("not ok %d - ", tap_n);                                   \
        } else {                                                             \
            printf("ok %d - ", tap_n);                                       \
        }                                                                    \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)

static int
done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif /* RP_TAP_H */
