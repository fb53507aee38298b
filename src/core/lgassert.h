/*
 * lgassert.h - assertions that stay on in release builds.
 *
 * lg_assert(x) logs file:line and aborts: a broken invariant is a programmer error and
 * continuing would corrupt state (Redis serverAssert). lg_debug_assert is for O(n) checks
 * and compiles away unless LG_DEBUG_ASSERT is defined. Never validate input with these.
 */
#ifndef LG_ASSERT_H
#define LG_ASSERT_H

_Noreturn void lg_assert_fail(const char *expr, const char *file, int line);

#define lg_assert(x) ((x) ? (void)0 : lg_assert_fail(#x, __FILE__, __LINE__))

#ifdef LG_DEBUG_ASSERT
#define lg_debug_assert(x) lg_assert(x)
#else
#define lg_debug_assert(x) ((void)0)
#endif

#endif
