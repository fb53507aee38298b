/*
 * loadgen_parse.h - incremental HTTP/1.1 response parser for the load generator.
 *
 * Fed whatever read() returned, in pieces of any size: the status line and each header
 * line are gathered in a bounded line buffer (a line may be split across reads), the
 * body is counted and skipped, never stored. Framing: Content-Length, chunked
 * transfer coding (with trailers), no body for 1xx/204/304, or - without either header -
 * the body runs until the server closes (lg_loadgen_parse_eof). 1xx interim responses
 * are skipped. Anything else malformed is an error; the connection must then be closed.
 */
#ifndef LG_LOADGEN_PARSE_H
#define LG_LOADGEN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a status or header line, CR included: the API's lines are under 100 bytes; every
 * connection carries this buffer, so 10,000 connections cost 40 MiB */
#define LG_LOADGEN_LINE_MAX 4096
/* header lines per response; a server sending more is broken or hostile */
#define LG_LOADGEN_HEADERS_MAX 100
/* a body we are willing to skip; the API's answers are a few hundred bytes */
#define LG_LOADGEN_BODY_MAX (64LL * 1024 * 1024)

typedef enum lg_loadgen_parse_state {
    LG_LOADGEN_PARSE_STATUS,     /* reading the status line */
    LG_LOADGEN_PARSE_HEADERS,    /* reading header lines up to the empty one */
    LG_LOADGEN_PARSE_BODY,       /* Content-Length bytes left in `remaining` */
    LG_LOADGEN_PARSE_CHUNK_SIZE, /* reading a chunk-size line */
    LG_LOADGEN_PARSE_CHUNK_DATA, /* `remaining` bytes of chunk data */
    LG_LOADGEN_PARSE_CHUNK_END,  /* the CRLF after chunk data */
    LG_LOADGEN_PARSE_TRAILERS,   /* trailer lines after the last chunk */
    LG_LOADGEN_PARSE_UNTIL_EOF,  /* no framing: body ends when the server closes */
    LG_LOADGEN_PARSE_DONE,       /* one complete response */
    LG_LOADGEN_PARSE_ERROR,      /* malformed; `error` says why */
} lg_loadgen_parse_state;

/* Caller-owned; ~4 KiB (the line buffer). */
typedef struct lg_loadgen_parse {
    lg_loadgen_parse_state state;
    int status;          /* 100..599 once the status line is read */
    bool keep_alive;     /* false: the server will close after this response */
    bool chunked;
    bool have_length;
    int headers;         /* header lines seen */
    int64_t length;      /* Content-Length */
    int64_t remaining;   /* body or chunk bytes still to skip */
    int64_t body_bytes;  /* body bytes seen (chunk data only for chunked) */
    const char *error;   /* static text when state is ERROR */
    size_t line_len;
    char line[LG_LOADGEN_LINE_MAX];
} lg_loadgen_parse;

/* Prepares p for the next response on a connection. */
void lg_loadgen_parse_init(lg_loadgen_parse *p);

/* Feeds n bytes. Consumes bytes up to the end of one response and stops there: on
 * return *used_out says how many bytes were consumed (< n only when the response is
 * complete and more bytes follow, which a client that does not pipeline treats as an
 * error). Returns 0 (check lg_loadgen_parse_done) or LG_EINVAL when the response is
 * malformed (p->error says why; *used_out is not written). */
int lg_loadgen_parse_feed(lg_loadgen_parse *p, const char *buf, size_t n, size_t *used_out);

/* The server closed the connection. Returns 0 when that completes the response (body
 * delimited by close), LG_EINVAL when the response was cut short. */
int lg_loadgen_parse_eof(lg_loadgen_parse *p);

/* True once one complete response has been parsed. */
bool lg_loadgen_parse_done(const lg_loadgen_parse *p);

#endif
