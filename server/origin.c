/*
 * origin.c — the Host and Origin rules of origin.h: parsing the two option lists, parsing
 * header values, and the check itself. Nothing here touches a socket.
 */
#include "server/origin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *const loopback_names[] = {"localhost", "127.0.0.1", "[::1]"};

/* ---- parsing ------------------------------------------------------------------------------ */

static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A port: 1 to 5 digits, 1..65535. 0 with *port set, or -1. */
static int parse_port(const char *s, size_t n, int *port) {
    int v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

/*
 * A host name (s, n bytes) into out (TG_HOST_NAME_MAX + 1 bytes), lowercased: letters, digits,
 * '-', '.', '_' (a DNS name or an IPv4 address), or an IPv6 address in brackets (checked with
 * inet_pton; no zone). 0, or -1 when malformed.
 */
static int parse_name(const char *s, size_t n, char *out) {
    if (n == 0 || n > TG_HOST_NAME_MAX)
        return -1;
    if (s[0] == '[') {
        char v6[TG_HOST_NAME_MAX + 1];
        unsigned char addr[16];

        if (n < 3 || s[n - 1] != ']')
            return -1;
        memcpy(v6, s + 1, n - 2);
        v6[n - 2] = '\0';
        if (inet_pton(AF_INET6, v6, addr) != 1)
            return -1;
    } else {
        for (size_t i = 0; i < n; i++) {
            char c = s[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_'))
                return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = lower(s[i]);
    out[n] = '\0';
    return 0;
}

/* An authority `name[:port]` (s, n bytes): *port is -1 when there is none. 0, or -1. */
static int parse_authority(const char *s, size_t n, char *name, int *port) {
    size_t nl = n;
    const char *colon;

    *port = -1;
    if (n > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', n);

        if (!end)
            return -1;
        nl = (size_t)(end - s) + 1;
        if (nl < n && s[nl] != ':')
            return -1;
    } else {
        colon = memchr(s, ':', n);
        if (colon)
            nl = (size_t)(colon - s);
    }
    if (parse_name(s, nl, name) != 0)
        return -1;
    if (nl < n && parse_port(s + nl + 1, n - nl - 1, port) != 0)
        return -1;
    return 0;
}

/* An origin `scheme://authority` (no path, no user info). 0 with *o filled, or -1. */
static int parse_origin(const char *s, struct origin_site *o) {
    const char *sep = strstr(s, "://");
    size_t ns;

    if (!sep)
        return -1;
    ns = (size_t)(sep - s);
    if (ns == 0 || ns >= sizeof(o->scheme) || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return -1;
    for (size_t i = 0; i < ns; i++) {
        char c = lower(s[i]);

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            return -1;
        o->scheme[i] = c;
    }
    o->scheme[ns] = '\0';
    if (parse_authority(sep + 3, strlen(sep + 3), o->name, &o->port) != 0)
        return -1;
    if (o->port < 0 && strcmp(o->scheme, "http") == 0)
        o->port = 80;
    else if (o->port < 0 && strcmp(o->scheme, "https") == 0)
        o->port = 443;
    return 0;
}

static int is_loopback_name(const char *name) {
    for (size_t i = 0; i < TG_ARRAY_LEN(loopback_names); i++)
        if (strcmp(name, loopback_names[i]) == 0)
            return 1;
    return 0;
}

/* ---- the option lists --------------------------------------------------------------------- */

/* Call one(p, entry, len, opt, err) for each comma-separated entry of list, trimmed; `*` sets
 * *any instead. */
static int each_entry(struct origin_policy *p, const char *list, const char *opt, int *any,
                      int (*one)(struct origin_policy *, const char *, size_t, const char *,
                                 struct tg_error *),
                      struct tg_error *err) {
    const char *s = list;
    int names = 0;

    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        int rc;

        while (n > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n == 0) {
            tg_error_set(err, TG_CODE_CONFIG, "%s has an empty entry.", opt);
            return TG_EINVAL;
        }
        if (n == 1 && s[0] == '*') {
            *any = 1;
        } else {
            rc = one(p, s, n, opt, err);
            if (rc)
                return rc;
            names = 1;
        }
        if (*any && names) {
            tg_error_set(err, TG_CODE_CONFIG, "%s: '*' accepts everything; give it alone.", opt);
            return TG_EINVAL;
        }
        if (!e)
            return 0;
        s = e + 1;
    }
}

static int add_host(struct origin_policy *p, const char *s, size_t n, const char *opt,
                    struct tg_error *err) {
    struct origin_host *h;

    if (p->nhosts >= TG_ALLOWED_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "%s: more than %d entries.", opt, TG_ALLOWED_MAX);
        return TG_EINVAL;
    }
    h = &p->hosts[p->nhosts];
    if (parse_authority(s, n, h->name, &h->port) != 0) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "%s: \"%.*s\" is not a host name, an IPv4 address or a [IPv6] address, with "
                     "an optional :port.",
                     opt, (int)(n > 80 ? 80 : n), s);
        return TG_EINVAL;
    }
    p->nhosts++;
    return 0;
}

static int add_origin(struct origin_policy *p, const char *s, size_t n, const char *opt,
                      struct tg_error *err) {
    char buf[32 + 3 + TG_HOST_NAME_MAX + 7];

    if (p->norigins >= TG_ALLOWED_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "%s: more than %d entries.", opt, TG_ALLOWED_MAX);
        return TG_EINVAL;
    }
    if (n < sizeof(buf)) {
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    if (n >= sizeof(buf) || parse_origin(buf, &p->origins[p->norigins]) != 0) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "%s: \"%.*s\" is not an origin: scheme://host[:port], as a browser sends it "
                     "(https://app.example.com), no path.",
                     opt, (int)(n > 80 ? 80 : n), s);
        return TG_EINVAL;
    }
    p->norigins++;
    return 0;
}

int origin_policy_init(struct origin_policy *p, const char *hosts, const char *origins,
                       struct tg_error *err) {
    int rc = 0;

    memset(p, 0, sizeof(*p));
    if (hosts)
        rc = each_entry(p, hosts, "--allowed-hosts", &p->any_host, add_host, err);
    if (rc == 0 && origins)
        rc = each_entry(p, origins, "--allowed-origins", &p->any_origin, add_origin, err);
    return rc;
}

void origin_policy_bind(struct origin_policy *p, const char *listen_ip, int port) {
    p->port = port;
    p->wildcard = strcmp(listen_ip, "0.0.0.0") == 0;
    p->bound_ip[0] = '\0';
    if (!p->wildcard)
        snprintf(p->bound_ip, sizeof(p->bound_ip), "%s", listen_ip);
}

/* ---- the check ---------------------------------------------------------------------------- */

/* Is the Host accepted by name (loopback, local address, list)? */
static int host_known(const struct origin_policy *p, const char *name, int port, const char *li) {
    int own_port = port < 0 || port == p->port;

    if (is_loopback_name(name) && own_port)
        return 1;
    if (li && li[0] && strcmp(name, li) == 0 && own_port)
        return 1;
    for (size_t i = 0; i < p->nhosts; i++)
        if (strcmp(p->hosts[i].name, name) == 0 &&
            (p->hosts[i].port < 0 || p->hosts[i].port == port))
            return 1;
    return 0;
}

enum origin_refusal origin_check(const struct origin_policy *p, const struct origin_request *rq,
                                 int *cors, struct tg_error *err) {
    char hname[TG_HOST_NAME_MAX + 1];
    int hport = -1, by_name = 0;
    struct origin_site o;

    *cors = 0;
    if (!p->any_host) {
        const char *li = p->wildcard ? rq->local_ip : p->bound_ip;

        if (rq->nhost == 0 || !rq->host) {
            tg_error_set(err, "forbidden",
                         "The request has no Host header; it must name this server (docs/api.md, "
                         "\"Host and Origin\").");
            return ORIGIN_HOST_MISSING;
        }
        if (rq->nhost > 1) {
            tg_error_set(err, "forbidden", "The request has more than one Host header.");
            return ORIGIN_HOST;
        }
        if (parse_authority(rq->host, strlen(rq->host), hname, &hport) != 0 ||
            !host_known(p, hname, hport, li)) {
            tg_error_set(err, "forbidden",
                         "Host \"%.80s\" is not accepted: this server answers its loopback names "
                         "and address; --allowed-hosts names others (docs/api.md, \"Host and "
                         "Origin\").",
                         rq->host);
            return ORIGIN_HOST;
        }
        by_name = 1;
    }
    if (rq->norigin == 0 || !rq->origin)
        return ORIGIN_OK;
    if (rq->norigin > 1) {
        tg_error_set(err, "forbidden", "The request has more than one Origin header.");
        return ORIGIN_ORIGIN;
    }
    if (p->any_origin) {
        *cors = 1;
        return ORIGIN_OK;
    }
    if (strcmp(rq->origin, "null") == 0) {
        tg_error_set(err, "forbidden",
                     "Origin \"null\" (a sandboxed page or a local file) is not accepted; "
                     "--allowed-origins names the origins that are (docs/api.md, \"Host and "
                     "Origin\").");
        return ORIGIN_ORIGIN;
    }
    if (parse_origin(rq->origin, &o) == 0) {
        int ok = strcmp(o.scheme, "http") == 0 && is_loopback_name(o.name) && o.port == p->port;

        /* the request's own origin: the page was served under the Host it names */
        if (!ok && by_name && strcmp(o.name, hname) == 0 &&
            (strcmp(o.scheme, "http") == 0 || strcmp(o.scheme, "https") == 0))
            ok = o.port == (hport >= 0 ? hport : (o.scheme[4] == 's' ? 443 : 80));
        for (size_t i = 0; !ok && i < p->norigins; i++)
            ok = strcmp(p->origins[i].scheme, o.scheme) == 0 &&
                 strcmp(p->origins[i].name, o.name) == 0 && p->origins[i].port == o.port;
        if (ok) {
            *cors = 1;
            return ORIGIN_OK;
        }
    }
    tg_error_set(err, "forbidden",
                 "Origin \"%.80s\" is not accepted: pages of this server and of its loopback "
                 "names are; --allowed-origins names others (docs/api.md, \"Host and Origin\").",
                 rq->origin);
    return ORIGIN_ORIGIN;
}

const char *origin_refusal_name(enum origin_refusal r) {
    switch (r) {
    case ORIGIN_HOST_MISSING:
        return "host_missing";
    case ORIGIN_HOST:
        return "host";
    case ORIGIN_ORIGIN:
        return "origin";
    default:
        return "ok";
    }
}
