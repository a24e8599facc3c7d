/*
 * harness.c — end-to-end test helpers: an in-process server on port 0 and a libcurl client
 * (see tg_test.h).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/http.h"
#include "server/runq.h"
#include "server/server.h"
#include "tg_test.h"

struct started {
    struct server *srv;
    char url[64];
};

#define MAX_STARTED 16
static struct started started[MAX_STARTED];

struct server *test_server_start(const struct server_config *cfg) {
    struct server_config c;
    struct tg_error err;
    struct server *s;

    if (cfg) {
        c = *cfg;
    } else {
        server_config_defaults(&c);
        c.quiet = 1;
    }
    c.port = 0;
    if (server_start(&c, &s, &err) != 0) {
        fprintf(stderr, "test_server_start: %s\n", err.message);
        CU_FAIL("server_start failed");
        return NULL;
    }
    for (int i = 0; i < MAX_STARTED; i++) {
        if (!started[i].srv) {
            started[i].srv = s;
            snprintf(started[i].url, sizeof(started[i].url), "http://127.0.0.1:%d", server_port(s));
            break;
        }
    }
    return s;
}

const char *test_server_url(struct server *s) {
    for (int i = 0; i < MAX_STARTED; i++)
        if (started[i].srv == s)
            return started[i].url;
    return "http://127.0.0.1:0";
}

void test_server_stop(struct server *s) {
    if (!s)
        return;
    for (int i = 0; i < MAX_STARTED; i++)
        if (started[i].srv == s)
            started[i].srv = NULL;
    server_stop(s);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct http_resp *r = ud;
    size_t len = size * n;
    char *nb = realloc(r->body, r->len + len + 1);

    if (!nb)
        return 0;
    memcpy(nb + r->len, p, len);
    r->body = nb;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct http_resp *r = ud;
    size_t len = size * n, used = strlen(r->headers);

    if (used + len < sizeof(r->headers)) {
        memcpy(r->headers + used, p, len);
        r->headers[used + len] = '\0';
    }
    return len;
}

int test_http(const char *method, const char *url, const char *body, size_t body_len,
              const char *content_type, const char *extra_header, struct http_resp *r) {
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char ct[256];
    CURLcode cc;

    memset(r, 0, sizeof(*r));
    if (!c)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
    }
    for (const char *h = extra_header; h && *h;) { /* several headers: one a line */
        size_t n = strcspn(h, "\n");
        char one[1024];

        snprintf(one, sizeof(one), "%.*s", (int)n, h);
        hdrs = curl_slist_append(hdrs, one);
        h += n;
        if (*h == '\n')
            h++;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (!r->body) {
        r->body = calloc(1, 1);
        if (!r->body)
            return -1;
    }
    return cc == CURLE_OK ? 0 : -1;
}

void http_resp_free(struct http_resp *r) {
    free(r->body);
    r->body = NULL;
}

int test_header(const struct http_resp *r, const char *name, char *buf, size_t n) {
    const char *p = r->headers;
    size_t nl = strlen(name);

    while (p && *p) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t len;

            while (*v == ' ')
                v++;
            len = strcspn(v, "\r\n");
            if (len >= n)
                len = n - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

size_t test_wait_runq(struct server *s, size_t want, int running) {
    size_t n = 0;

    for (int i = 0; i < 3000; i++) {
        n = running ? runq_running(s->runq) : runq_pending(s->runq);
        if (n == want)
            break;
        usleep(10 * 1000);
    }
    return n;
}

void test_task_file_head(char *path, size_t size, int n) {
    FILE *in = fopen("data/tasks/train.jsonl", "r"), *out;
    char line[8192];
    int fd;

    snprintf(path, size, "/tmp/tg_tasks_XXXXXX");
    fd = mkstemp(path);
    CU_ASSERT_FATAL(in != NULL && fd >= 0);
    out = fdopen(fd, "w");
    CU_ASSERT_FATAL(out != NULL);
    for (int i = 0; i < n && fgets(line, sizeof(line), in); i++)
        fputs(line, out);
    fclose(in);
    fclose(out);
}

int test_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

char *test_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        s = malloc((size_t)n + 1);
        if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
            free(s);
            s = NULL;
        } else if (s) {
            s[n] = '\0';
        }
    }
    fclose(f);
    return s;
}
