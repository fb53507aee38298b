/*
 * serve.c - signals and descriptor limits for the long-running commands.
 */
#include "cli/serve.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>

#include "core/log.h"

/* descriptors beyond the HTTP connections: listeners, SQLite (db, wal, shm per handle),
 * epoll and eventfds, librdkafka's broker sockets */
#define LG_SERVE_FD_RESERVE 256

void lg_serve_signals_block(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int lg_serve_signal_wait(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* the one unbounded wait of a server: it ends with the process */
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

void lg_serve_nofile_raise(uint32_t connections_max)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections_max + LG_SERVE_FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        lg_log(LG_WARN, "serve", "open files limited to %llu (hard limit); "
               "http.connections_max=%u may not be reachable",
               (unsigned long long)rl.rlim_cur, connections_max);
}
