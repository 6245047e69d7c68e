/* check.h — the tiny test harness of the native C tests: CHECK records a
 * failed check (printing the first few of each test), run_test reports one
 * test, check_summary prints "P passed, F failed" and gives the exit code. */
#ifndef RNNLAB_CHECK_H
#define RNNLAB_CHECK_H

#include <stdio.h>

static int n_passed, n_failed, n_skipped;
static int current_failures;      /* failed checks in the running test */
static const char *current_skip;  /* why the running test skipped, or NULL */

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            if (current_failures++ < 8) {                                   \
                printf("  FAIL %s:%d: ", __FILE__, __LINE__);               \
                printf(__VA_ARGS__);                                        \
                printf("\n");                                               \
            }                                                               \
        }                                                                   \
    } while (0)

static inline void skip(const char *why) { current_skip = why; }

static inline void run_test(const char *name, void (*fn)(void)) {
    current_failures = 0;
    current_skip = NULL;
    fn();
    if (current_failures) {
        n_failed++;
        printf("FAIL %s (%d checks)\n", name, current_failures);
    } else if (current_skip) {
        n_skipped++;
        printf("skip %s: %s\n", name, current_skip);
    } else {
        n_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

static inline int check_summary(void) {
    if (n_skipped) printf("%d skipped\n", n_skipped);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}

#endif
