/*
 * replay_lines.c - splits an input stream into lines through one fixed buffer.
 *
 * The buffer (LG_REPLAY_READ_BUF) is refilled with large read()s and lines are found
 * with memchr, so the cost per line is a scan of its bytes. Memory is bounded whatever
 * the input: a line that grows past LG_LINE_MAX is not kept; the rest of it is read and
 * dropped up to its newline, and the caller is told its number (LG_ETOOBIG).
 */
#include "cli/replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/lgassert.h"

struct lg_replay_lines {
    int fd;
    char *buf;         /* LG_REPLAY_READ_BUF bytes */
    size_t start, end; /* unread bytes are buf[start..end) */
    bool eof;
    uint64_t lineno;   /* number of the last line returned */
    uint64_t bytes;
};

int lg_replay_lines_new(int fd, lg_replay_lines **out)
{
    lg_replay_lines *r = calloc(1, sizeof *r);

    if (r == NULL)
        return LG_ENOMEM;
    r->buf = malloc(LG_REPLAY_READ_BUF);
    if (r->buf == NULL) {
        free(r);
        return LG_ENOMEM;
    }
    r->fd = fd;
    *out = r;
    return 0;
}

void lg_replay_lines_free(lg_replay_lines *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

uint64_t lg_replay_lines_bytes(const lg_replay_lines *r)
{
    return r->bytes;
}

/* Moves the unread bytes to the front and reads more after them. 0, or LG_EIO. */
static int fill(lg_replay_lines *r)
{
    ssize_t n;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    lg_assert(r->end < LG_REPLAY_READ_BUF);
    do {
        n = read(r->fd, r->buf + r->end, LG_REPLAY_READ_BUF - r->end);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return LG_EIO;
    if (n == 0)
        r->eof = true;
    r->end += (size_t)n;
    r->bytes += (uint64_t)n;
    return 0;
}

/* Drops input up to and including the next newline (or to the end). 0, or LG_EIO. */
static int skip_line(lg_replay_lines *r)
{
    /* bounded by the input: each round consumes a full buffer or ends the line */
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            r->start = (size_t)(nl - r->buf) + 1;
            return 0;
        }
        r->start = r->end = 0;
        if (r->eof)
            return 0;
        if (fill(r) != 0)
            return LG_EIO;
    }
}

int lg_replay_lines_next(lg_replay_lines *r, const char **line, size_t *len,
                         uint64_t *lineno)
{
    lg_assert(r != NULL);
    /* bounded: each round either returns or reads more (at most one buffer per line
     * before the line is declared too long) */
    for (;;) {
        size_t avail = r->end - r->start;
        char *p = r->buf + r->start;
        char *nl = memchr(p, '\n', avail);
        size_t n;

        if (nl == NULL && avail <= LG_LINE_MAX && !r->eof) {
            if (fill(r) != 0)
                return LG_EIO;
            continue;
        }
        if (nl == NULL && avail == 0)
            return 0; /* end of input, nothing pending */
        *lineno = ++r->lineno;
        n = nl != NULL ? (size_t)(nl - p) : avail;
        if (n > LG_LINE_MAX) {
            if (nl != NULL) {
                r->start += n + 1;
            } else {
                r->start = r->end;
                if (skip_line(r) != 0)
                    return LG_EIO;
            }
            return LG_ETOOBIG;
        }
        r->start += nl != NULL ? n + 1 : n; /* last line may lack its newline */
        *line = p;
        *len = n;
        return 1;
    }
}
