/*
 * loadgen_workload.h - request bodies for `loginguard loadgen`: the seed's producer.
 *
 * The seed picked a random id from one JSON file and a random password from another and
 * sent the pair as a login; most pairs fail, the few that match a registered user pass.
 * Scenarios on top of that: bruteforce (a few ids hammered with wrong passwords, mixed
 * with random traffic) and stuffing (one ip walking through many ids). Each thread owns
 * an lg_loadgen_rng; the workload itself is read-only once built and shared by threads.
 */
#ifndef LG_LOADGEN_WORKLOAD_H
#define LG_LOADGEN_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "cli/loadgen.h"
#include "cli/loadgen_rng.h"

/* bruteforce: ids under attack; few, so each collects failures quickly */
#define LG_LOADGEN_BRUTE_TARGETS 3
/* bruteforce: attack requests out of 4 (the rest is random background traffic) */
#define LG_LOADGEN_BRUTE_SHARE 3
/* stuffing: attack requests out of 10 */
#define LG_LOADGEN_STUFF_SHARE 9
/* --endpoint attempts, random traffic: one attempt in this many reports ok:true */
#define LG_LOADGEN_OK_ONE_IN 10

/* Loads the id list (ids_path) and, for --endpoint login, the password list
 * (passwords_path; may be NULL for --endpoint attempts): JSON arrays of strings, ids of
 * 1..128 bytes without control characters, passwords of 1..LG_PASSWORD_MAX bytes.
 * seed picks the bruteforce targets. On failure writes a message naming the file and
 * the entry into err and returns LG_EINVAL, LG_EIO or LG_ENOMEM. */
int lg_loadgen_workload_new(const char *ids_path, const char *passwords_path,
                            lg_loadgen_scenario scenario, lg_loadgen_endpoint endpoint,
                            uint64_t seed, lg_loadgen_workload **out, char *err,
                            size_t err_len);
void lg_loadgen_workload_free(lg_loadgen_workload *w);

/* Writes the JSON body of request number seq into buf (cap bytes). seq numbers a
 * thread's requests so that stuffing walks the id list; rng is the caller's. Returns
 * LG_ETOOBIG when cap is too small (cannot happen with LG_LOADGEN_BODY_MAX_OUT). */
int lg_loadgen_workload_body(const lg_loadgen_workload *w, lg_loadgen_rng *rng, uint64_t seq,
                             char *buf, size_t cap, size_t *len_out);

/* The request path for the workload's endpoint ("/v1/login" or "/v1/attempts"). */
const char *lg_loadgen_workload_path(const lg_loadgen_workload *w);

#endif
