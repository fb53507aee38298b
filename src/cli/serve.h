/*
 * serve.h - what the long-running commands (run, api) share: signal handling by a
 * dedicated wait (no async handlers, so shutdown code runs on the main thread) and a
 * file-descriptor limit that fits the configured connection bound.
 */
#ifndef LG_CLI_SERVE_H
#define LG_CLI_SERVE_H

#include <stdint.h>

/* Blocks SIGINT and SIGTERM in the calling thread, so in every thread started after
 * this call, and ignores SIGPIPE. Call before starting any thread. */
void lg_serve_signals_block(void);

/* Waits for SIGINT or SIGTERM; returns the signal number. */
int lg_serve_signal_wait(void);

/* Raises the RLIMIT_NOFILE soft limit to fit connections_max plus a reserve for the
 * store, the bus and logs, up to the hard limit; logs a warning when it cannot. */
void lg_serve_nofile_raise(uint32_t connections_max);

#endif
