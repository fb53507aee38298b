/* lgassert.c - the failure path of lg_assert. */
#include "core/lgassert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void lg_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}
