/*
 * test_origin.c — suite `origin`: the Host and Origin rules of server/origin.h as a table of
 * header values and verdicts, and the option lists that extend them (parsed or refused).
 */
#include <stdio.h>
#include <string.h>

#include "server/origin.h"
#include "tg_test.h"

#define NONE ((const char *)0)

struct case_ {
    const char *host;   /* NONE: no Host header */
    const char *origin; /* NONE: no Origin header */
    const char *local;  /* the address the connection arrived on */
    enum origin_refusal want;
    int cors; /* the reply names the Origin (when accepted) */
};

/* Run every case against p; report each miss with its row. */
static void run_cases(const struct origin_policy *p, const struct case_ *c, size_t n,
                      const char *table) {
    for (size_t i = 0; i < n; i++) {
        struct origin_request in;
        struct tg_error err;
        enum origin_refusal got;
        int cors = -1;

        in.host = c[i].host;
        in.nhost = c[i].host ? 1 : 0;
        in.origin = c[i].origin;
        in.norigin = c[i].origin ? 1 : 0;
        in.local_ip = c[i].local ? c[i].local : "";
        tg_error_clear(&err);
        got = origin_check(p, &in, &cors, &err);
        if (got != c[i].want || (got == ORIGIN_OK && cors != c[i].cors))
            fprintf(stderr, "%s row %zu: Host %s Origin %s -> %s cors %d, want %s cors %d (%s)\n",
                    table, i, c[i].host ? c[i].host : "(none)",
                    c[i].origin ? c[i].origin : "(none)", origin_refusal_name(got), cors,
                    origin_refusal_name(c[i].want), c[i].cors, err.message);
        CU_ASSERT_EQUAL(got, c[i].want);
        if (got == ORIGIN_OK) {
            CU_ASSERT_EQUAL(cors, c[i].cors);
        } else {
            CU_ASSERT_STRING_EQUAL(err.code, "forbidden");
        }
    }
}

static struct origin_policy pol; /* large: not on the stack */

static void policy(const char *hosts, const char *origins, const char *listen, int port) {
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(origin_policy_init(&pol, hosts, origins, &err), 0);
    origin_policy_bind(&pol, listen, port);
}

TG_TEST(origin, loopback_bound_accepts_loopback_names_only) {
    static const struct case_ c[] = {
        {"localhost:8080", NONE, NULL, ORIGIN_OK, 0},
        {"127.0.0.1:8080", NONE, NULL, ORIGIN_OK, 0},
        {"[::1]:8080", NONE, NULL, ORIGIN_OK, 0},
        {"LocalHost:8080", NONE, NULL, ORIGIN_OK, 0},
        {"localhost", NONE, NULL, ORIGIN_OK, 0}, /* a proxy forwarding the name alone */
        {"127.0.0.1", NONE, NULL, ORIGIN_OK, 0},
        {"localhost:8081", NONE, NULL, ORIGIN_HOST, 0}, /* another server's port */
        {"evil.example.com", NONE, NULL, ORIGIN_HOST, 0},
        {"evil.example.com:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost.evil.example.com:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"127.0.0.1.nip.io:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"127.0.0.2:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost:", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost:0", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost:65536", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost:8080x", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost:+8080", NONE, NULL, ORIGIN_HOST, 0},
        {"user@localhost:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"localhost:8080 ", NONE, NULL, ORIGIN_HOST, 0},
        {"[::1", NONE, NULL, ORIGIN_HOST, 0},
        {"::1", NONE, NULL, ORIGIN_HOST, 0},
        {"[::1]8080", NONE, NULL, ORIGIN_HOST, 0},
        {"[localhost]:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"", NONE, NULL, ORIGIN_HOST, 0},
        {NONE, NONE, NULL, ORIGIN_HOST_MISSING, 0},
        /* with --host 127.0.0.1 the local address is 127.0.0.1 whatever the caller says */
        {"127.0.0.3:8080", NONE, "127.0.0.3", ORIGIN_HOST, 0},
    };

    policy(NULL, NULL, "127.0.0.1", 8080);
    run_cases(&pol, c, TG_ARRAY_LEN(c), "loopback");
}

TG_TEST(origin, origins_of_this_server_pass_others_and_null_do_not) {
    static const struct case_ c[] = {
        {"localhost:8080", "http://localhost:8080", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "http://127.0.0.1:8080", NULL, ORIGIN_OK, 1},
        {"127.0.0.1:8080", "http://[::1]:8080", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "HTTP://LOCALHOST:8080", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "https://localhost:8080", NULL, ORIGIN_OK, 1},    /* its own authority */
        {"localhost:8080", "http://localhost:3000", NULL, ORIGIN_ORIGIN, 0}, /* another app */
        {"localhost:8080", "http://localhost", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "http://evil.example.com", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "http://evil.example.com:8080", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "null", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "http://localhost:8080/", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "localhost:8080", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "file://", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "http://user@localhost:8080", NULL, ORIGIN_ORIGIN, 0},
        /* a bad Host is refused for its Host, whatever the Origin */
        {"evil.example.com:8080", "http://localhost:8080", NULL, ORIGIN_HOST, 0},
    };

    policy(NULL, NULL, "127.0.0.1", 8080);
    run_cases(&pol, c, TG_ARRAY_LEN(c), "origins");
}

TG_TEST(origin, repeated_headers_are_refused) {
    struct origin_request in = {"localhost:8080", 2, NULL, 0, ""};
    struct tg_error err;
    int cors;

    policy(NULL, NULL, "127.0.0.1", 8080);
    CU_ASSERT_EQUAL(origin_check(&pol, &in, &cors, &err), ORIGIN_HOST);
    in.nhost = 1;
    in.origin = "http://localhost:8080";
    in.norigin = 2;
    CU_ASSERT_EQUAL(origin_check(&pol, &in, &cors, &err), ORIGIN_ORIGIN);
    in.norigin = 1;
    CU_ASSERT_EQUAL(origin_check(&pol, &in, &cors, &err), ORIGIN_OK);
}

TG_TEST(origin, every_address_accepts_the_one_connected_to) {
    static const struct case_ c[] = {
        {"192.0.2.7:8080", NONE, "192.0.2.7", ORIGIN_OK, 0},
        {"192.0.2.7", NONE, "192.0.2.7", ORIGIN_OK, 0},
        {"192.0.2.7:8080", "http://192.0.2.7:8080", "192.0.2.7", ORIGIN_OK, 1}, /* own page */
        {"192.0.2.8:8080", NONE, "192.0.2.7", ORIGIN_HOST, 0}, /* another machine's */
        {"192.0.2.7:9090", NONE, "192.0.2.7", ORIGIN_HOST, 0},
        {"192.0.2.7:8080", NONE, "", ORIGIN_HOST, 0}, /* the address unknown: names only */
        {"localhost:8080", NONE, "192.0.2.7", ORIGIN_OK, 0},
        {"toolgym.lan:8080", NONE, "192.0.2.7", ORIGIN_HOST, 0}, /* a name needs the list */
    };

    policy(NULL, NULL, "0.0.0.0", 8080);
    CU_ASSERT(pol.wildcard);
    run_cases(&pol, c, TG_ARRAY_LEN(c), "wildcard");
    /* one address: that one, whatever the caller passes */
    policy(NULL, NULL, "192.0.2.7", 8080);
    CU_ASSERT(!pol.wildcard);
    {
        static const struct case_ d[] = {
            {"192.0.2.7:8080", NONE, "", ORIGIN_OK, 0},
            {"192.0.2.8:8080", NONE, "192.0.2.8", ORIGIN_HOST, 0},
        };

        run_cases(&pol, d, TG_ARRAY_LEN(d), "one address");
    }
}

TG_TEST(origin, allowed_hosts_add_names_with_or_without_a_port) {
    static const struct case_ c[] = {
        {"toolgym.example.com", NONE, NULL, ORIGIN_OK, 0},
        {"TOOLGYM.example.com:9999", NONE, NULL, ORIGIN_OK, 0}, /* no port given: any */
        {"proxy.example:8443", NONE, NULL, ORIGIN_OK, 0},
        {"proxy.example", NONE, NULL, ORIGIN_HOST, 0}, /* a port given: that one */
        {"proxy.example:8080", NONE, NULL, ORIGIN_HOST, 0},
        {"[2001:db8::1]:1234", NONE, NULL, ORIGIN_OK, 0},
        {"localhost:8080", NONE, NULL, ORIGIN_OK, 0}, /* loopback names stay */
        {"other.example.com", NONE, NULL, ORIGIN_HOST, 0},
        /* pages served under an accepted name are their own origin */
        {"toolgym.example.com", "https://toolgym.example.com", NULL, ORIGIN_OK, 1},
        {"toolgym.example.com", "http://toolgym.example.com", NULL, ORIGIN_OK, 1},
        {"toolgym.example.com:8443", "https://toolgym.example.com:8443", NULL, ORIGIN_OK, 1},
        {"toolgym.example.com", "https://toolgym.example.com:8443", NULL, ORIGIN_ORIGIN, 0},
        {"toolgym.example.com", "http://evil.example.com", NULL, ORIGIN_ORIGIN, 0},
        {"toolgym.example.com", "ws://toolgym.example.com", NULL, ORIGIN_ORIGIN, 0},
    };

    policy(" toolgym.example.com,proxy.example:8443 , [2001:db8::1]", NULL, "127.0.0.1", 8080);
    CU_ASSERT_EQUAL(pol.nhosts, 3);
    run_cases(&pol, c, TG_ARRAY_LEN(c), "allowed hosts");
}

TG_TEST(origin, allowed_origins_match_scheme_name_and_port) {
    static const struct case_ c[] = {
        {"localhost:8080", "https://app.example.com", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "https://app.example.com:443", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "http://app.example.com", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "https://app.example.com:8443", NULL, ORIGIN_ORIGIN, 0},
        {"localhost:8080", "http://localhost:3000", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "chrome-extension://abcdef", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "null", NULL, ORIGIN_ORIGIN, 0},
    };

    policy(NULL, "https://app.example.com,http://localhost:3000,chrome-extension://abcdef",
           "127.0.0.1", 8080);
    CU_ASSERT_EQUAL(pol.norigins, 3);
    run_cases(&pol, c, TG_ARRAY_LEN(c), "allowed origins");
}

TG_TEST(origin, star_opts_out) {
    static const struct case_ hosts[] = {
        {"evil.example.com", NONE, NULL, ORIGIN_OK, 0},
        {NONE, NONE, NULL, ORIGIN_OK, 0},
        /* any Host: its "own origin" proves nothing, so the Origin rules still apply */
        {"evil.example.com", "http://evil.example.com", NULL, ORIGIN_ORIGIN, 0},
        {"evil.example.com", "http://localhost:8080", NULL, ORIGIN_OK, 1},
    };
    static const struct case_ origins[] = {
        {"localhost:8080", "null", NULL, ORIGIN_OK, 1},
        {"localhost:8080", "http://evil.example.com", NULL, ORIGIN_OK, 1},
        {"evil.example.com", "http://evil.example.com", NULL, ORIGIN_HOST, 0},
    };

    policy("*", NULL, "127.0.0.1", 8080);
    run_cases(&pol, hosts, TG_ARRAY_LEN(hosts), "any host");
    policy(NULL, " * ", "127.0.0.1", 8080);
    run_cases(&pol, origins, TG_ARRAY_LEN(origins), "any origin");
}

TG_TEST(origin, bad_lists_are_refused_naming_the_entry) {
    static const struct {
        const char *hosts, *origins, *want;
    } bad[] = {
        {"", NULL, "--allowed-hosts has an empty entry"},
        {"a.example,,b.example", NULL, "--allowed-hosts has an empty entry"},
        {"a.example,", NULL, "--allowed-hosts has an empty entry"},
        {"a b.example", NULL, "\"a b.example\""},
        {"http://a.example", NULL, "\"http://a.example\""},
        {"a.example:0", NULL, "\"a.example:0\""},
        {"a.example:http", NULL, "\"a.example:http\""},
        {"::1", NULL, "\"::1\""},
        {"*,a.example", NULL, "give it alone"},
        {"a.example,*", NULL, "give it alone"},
        {NULL, "app.example.com", "\"app.example.com\""},
        {NULL, "https://app.example.com/", "\"https://app.example.com/\""},
        {NULL, "https://", "\"https://\""},
        {NULL, "null", "\"null\""},
        {NULL, "https://a.example,*", "give it alone"},
        {NULL, "", "--allowed-origins has an empty entry"},
    };
    struct tg_error err;
    char many[TG_ALLOWED_MAX * 8 + 16] = "";

    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        tg_error_clear(&err);
        CU_ASSERT_EQUAL(origin_policy_init(&pol, bad[i].hosts, bad[i].origins, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, TG_CODE_CONFIG);
        if (!strstr(err.message, bad[i].want))
            fprintf(stderr, "row %zu: %s\n", i, err.message);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].want));
    }
    for (int i = 0; i <= TG_ALLOWED_MAX; i++) /* one entry too many */
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sh%d", i ? "," : "", i);
    CU_ASSERT_EQUAL(origin_policy_init(&pol, many, NULL, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 64 entries"));
    *strrchr(many, ',') = '\0';
    CU_ASSERT_EQUAL(origin_policy_init(&pol, many, NULL, &err), 0);
    CU_ASSERT_EQUAL(pol.nhosts, TG_ALLOWED_MAX);
}

TG_TEST(origin, messages_quote_the_value_cut_to_80_bytes) {
    char host[301], want[90];
    struct origin_request in = {host, 1, NULL, 0, ""};
    struct tg_error err;
    int cors;

    memset(host, 'a', 300);
    host[300] = '\0';
    policy(NULL, NULL, "127.0.0.1", 8080);
    CU_ASSERT_EQUAL(origin_check(&pol, &in, &cors, &err), ORIGIN_HOST);
    snprintf(want, sizeof(want), "\"%.80s\"", host);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
    CU_ASSERT(strlen(err.message) < TG_ERR_MSG_MAX - 1); /* whole, not cut by the buffer */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--allowed-hosts"));
    in.host = "localhost:8080";
    in.origin = "null";
    in.norigin = 1;
    CU_ASSERT_EQUAL(origin_check(&pol, &in, &cors, &err), ORIGIN_ORIGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Origin \"null\""));
}
