/*
 * origin.h — which Host and Origin headers the server answers: protection against DNS
 * rebinding, and the list CORS preflights are answered from.
 *
 * A web page on any site can make a victim's browser send requests to a server on the
 * victim's machine by pointing its own name at 127.0.0.1 (DNS rebinding); the browser then
 * sends `Host: evil.example:PORT` (and, on a POST, `Origin: http://evil.example:PORT`). The
 * name in Host is the one thing such a page cannot choose, so it is checked on every request;
 * a present Origin (what a browser sends on cross-site and on non-GET requests) is checked too.
 *
 * Accepted Host values:
 *   - a loopback name: `localhost`, `127.0.0.1`, `[::1]` (any case), with no port or with the
 *     server's own port;
 *   - the IP address the connection arrived on (the bound address, or with --host 0.0.0.0 the
 *     machine address the client connected to), with no port or the server's own port;
 *   - a name of --allowed-hosts: `name` (with any port or none) or `name:port` (that port);
 *   - anything at all, and no Host either, with --allowed-hosts `*`.
 * Accepted Origin values (no Origin header is always fine):
 *   - `http://` + a loopback name + `:` + the server's port;
 *   - the request's own origin: `http://` or `https://` + exactly the authority of its Host,
 *     when that Host was accepted by name (not by `*`);
 *   - an origin of --allowed-origins (`scheme://host[:port]`, default ports folded);
 *   - anything, `null` included, with --allowed-origins `*`.
 * `Origin: null` (sandboxed frames, local files, some redirects) is otherwise refused, and so
 * is a request with two Host or two Origin headers.
 *
 * Does not: read requests (http.c passes the header values), or decide what a refusal looks
 * like on the wire.
 */
#ifndef TG_ORIGIN_H
#define TG_ORIGIN_H

#include <stddef.h>

#include "base/limits.h"
#include "base/tg.h"

/* One accepted host: a lowercase name (`[::1]` keeps its brackets) and a port or -1 (any). */
struct origin_host {
    char name[TG_HOST_NAME_MAX + 1];
    int port;
};

/* One accepted origin: lowercase scheme and name, and the port (the scheme's default filled
 * in for http and https; -1 when the origin has none). */
struct origin_site {
    char scheme[32];
    char name[TG_HOST_NAME_MAX + 1];
    int port;
};

struct origin_policy {
    int port;                 /* the server's port (origin_policy_bind) */
    int any_host, any_origin; /* `*` given */
    char bound_ip[64];        /* the listen address when it is one address, else "" */
    int wildcard;             /* listening on 0.0.0.0: the local address is per connection */
    size_t nhosts, norigins;
    struct origin_host hosts[TG_ALLOWED_MAX];
    struct origin_site origins[TG_ALLOWED_MAX];
};

/*
 * origin_policy_init — parse the lists (comma-separated, spaces around entries ignored; NULL:
 * none) into *p. hosts: `*`, or entries `name`, `name:port`, `[v6]`, `[v6]:port`. origins:
 * `*`, or entries `scheme://host[:port]` (no path). Returns 0, or TG_EINVAL with *err naming
 * the option and the entry (an empty entry, a malformed one, more than TG_ALLOWED_MAX, `*`
 * mixed with names). Pure.
 */
int origin_policy_init(struct origin_policy *p, const char *hosts, const char *origins,
                       struct tg_error *err);

/* origin_policy_bind — record the listen address (IPv4 text; "0.0.0.0" means every address)
 * and the bound port. Call once the port is known, before any request. */
void origin_policy_bind(struct origin_policy *p, const char *listen_ip, int port);

/* What a request carried: the first value of each header (borrowed, NULL when absent) and how
 * many there were, and the address its connection arrived on (text; "" when unknown). */
struct origin_request {
    const char *host;
    int nhost;
    const char *origin;
    int norigin;
    const char *local_ip;
};

enum origin_refusal {
    ORIGIN_OK = 0,
    ORIGIN_HOST_MISSING, /* no Host header */
    ORIGIN_HOST,         /* a Host not accepted, malformed, or repeated */
    ORIGIN_ORIGIN,       /* an Origin not accepted, malformed, `null`, or repeated */
};

/*
 * origin_check — is the request accepted? Returns ORIGIN_OK, or the refusal with *err holding
 * the sentence for the 403 (code "forbidden"; the header's value quoted, cut to 80 bytes).
 * *cors is set to 1 when the request carries an accepted Origin (the reply names it in
 * Access-Control-Allow-Origin), else 0. Pure; thread-safe.
 */
enum origin_refusal origin_check(const struct origin_policy *p, const struct origin_request *rq,
                                 int *cors, struct tg_error *err);

/* origin_refusal_name — "host_missing", "host" or "origin" (metrics labels); "ok". */
const char *origin_refusal_name(enum origin_refusal r);

#endif
