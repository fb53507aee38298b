/* clock.h - wall-clock milliseconds (event time) and monotonic nanoseconds (durations). */
#ifndef LG_CLOCK_H
#define LG_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch: the unit of every event timestamp. */
static inline int64_t lg_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Monotonic nanoseconds, for measuring durations and deadlines. */
static inline int64_t lg_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

#endif
