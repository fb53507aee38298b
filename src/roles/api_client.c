/*
 * api_client.c - who the client of a request is (DESIGN.md "Trust boundary"): the TCP
 * peer, or, when the peer is one of [http] trusted_proxies, the client its
 * X-Forwarded-For names (core/addr.h lg_addr_xff_client), always in canonical text. Login
 * keys its IP rules by this address, never by anything the body says; admin_networks is
 * judged on it too, so behind HAProxy it is the client's address, not HAProxy's.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "roles/api_int.h"

int lg_api__client_setup(lg_api *a, char *err, size_t err_len)
{
    char why[160];

    if (lg_addr_cidr_list_parse(a->cfg->http_trusted_proxies, &a->trusted_proxies, why,
                                sizeof why) != 0) {
        snprintf(err, err_len, "api: invalid http.trusted_proxies: %s", why);
        return LG_EINVAL;
    }
    if (lg_addr_cidr_list_parse(a->cfg->http_admin_networks, &a->admin_networks, why,
                                sizeof why) != 0) {
        snprintf(err, err_len, "api: invalid http.admin_networks: %s", why);
        return LG_EINVAL;
    }
    return 0;
}

/* A trusted proxy sent an X-Forwarded-For whose client entry is no address: counted,
 * logged at most once per LG_API_XFF_WARN_INTERVAL_MS (the proxy repeats it on every
 * request until someone fixes it). */
static void xff_invalid(lg_api *a, const char *peer, const char *const *xff, size_t n)
{
    int64_t now = lg_now_ms(), last = atomic_load(&a->xff_warned_ms);
    char shown[LG_API_XFF_SHOWN_MAX * 6 + 1];

    lg_metrics_counter_add(a->xff_invalid, 1);
    if (now - last < LG_API_XFF_WARN_INTERVAL_MS ||
        !atomic_compare_exchange_strong(&a->xff_warned_ms, &last, now))
        return;
    /* the header is client-controlled text: escaped, control bytes dropped, cut */
    const char *last_xff = n > 0 ? xff[n - 1] : "";
    lg_http_json_escape(last_xff, strnlen(last_xff, LG_API_XFF_SHOWN_MAX), shown, sizeof shown);
    lg_log(LG_WARN, "api", "X-Forwarded-For from trusted proxy peer=%s names no client "
           "address: \"%s\"; the peer's address is used (lg_http_xff_invalid_total)",
           peer, shown);
}

/* The client of r as an address; LG_EINVAL when the peer has none (never on a TCP
 * listener). */
static int client_addr(lg_api *a, lg_http_req *r, lg_addr *out)
{
    const char *peer_text = lg_http_req_peer(r);
    const char *xff[LG_API_XFF_HEADERS_MAX];
    lg_addr peer;
    size_t n;

    if (lg_addr_parse(peer_text, strlen(peer_text), &peer) != 0)
        return LG_EINVAL;
    if (!lg_addr_cidr_list_has(&a->trusted_proxies, &peer)) {
        *out = peer; /* X-Forwarded-For of anyone else is its own word: not even read */
        return 0;
    }
    n = lg_http_req_header_values(r, "X-Forwarded-For", xff, LG_API_XFF_HEADERS_MAX);
    /* an entry that is no address where the client should be: the proxy is broken or
     * misconfigured (HAProxy writes the address it saw). Refusing the request would cut
     * every client off behind it; the peer's address keeps detection on, at the price of
     * the proxy's clients sharing one IP key until it is fixed, which the counter and
     * the log line make visible */
    if (lg_addr_xff_client(&peer, xff, n, &a->trusted_proxies, out) != 0)
        xff_invalid(a, peer_text, xff, n);
    return 0;
}

void lg_api__client_ip(lg_api *a, lg_http_req *r, char out[static LG_IP_MAX + 1])
{
    lg_addr client;

    if (client_addr(a, r, &client) != 0)
        out[0] = '\0'; /* no address: IP-keyed rules do not apply */
    else
        lg_addr_format(&client, out);
}

bool lg_api__from_admin_network(lg_api *a, lg_http_req *r)
{
    lg_addr client;

    return client_addr(a, r, &client) == 0 &&
           lg_addr_cidr_list_has(&a->admin_networks, &client);
}
