/*
 * mhd_ceiling.c — the libmicrohttpd ceiling for bench/http.sh: the smallest server that
 * answers POST with a fixed small JSON body, using the same threading model as
 * `toolgym serve` (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL and a thread pool of N).
 *
 * What it does: allocate per-request state on the first callback, copy the upload into a
 * bounded buffer like a real handler would (so the body really is consumed), and on the last
 * call queue the calculator's answer for the benchmark expression with Content-Type
 * application/json. What it does not do: parse JSON, route, log, count metrics, or anything else
 * the real server does; the difference between the two is what bench/http.sh measures.
 *
 * usage: mhd_ceiling [--port N] [--threads N]   (port 0 picks one; the bound port is printed
 * on stdout as "port N"; SIGINT/SIGTERM stop it)
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"

#define CEIL_BODY_MAX 8192 /* bytes kept from one request body; the rest is dropped */

/* The same bytes the real server answers for the benchmark expression. */
static const char reply_json[] = "{\"ok\":true,\"content\":\"-20\",\"result\":{\"value\":-20}}";

struct ceil_req {
    size_t len;
    int too_large;
    char body[CEIL_BODY_MAX];
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    struct ceil_req *rq = *con_cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned status = MHD_HTTP_OK;

    (void)cls;
    (void)url;
    (void)version;
    if (!rq) {
        rq = malloc(sizeof(*rq));
        if (!rq)
            return MHD_NO;
        rq->len = 0;
        rq->too_large = 0;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;

        if (n > CEIL_BODY_MAX - 1 - rq->len)
            rq->too_large = 1;
        else {
            memcpy(rq->body + rq->len, upload_data, n);
            rq->len += n;
            rq->body[rq->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0)
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    else if (rq->too_large)
        status = MHD_HTTP_CONTENT_TOO_LARGE;
    resp = MHD_create_response_from_buffer(sizeof(reply_json) - 1, (void *)reply_json,
                                           MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int main(int argc, char **argv) {
    long port = 0, threads = 2;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    sigset_t set;
    int sig;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v && strcmp(argv[i], "--port") == 0 && num_long(v, 0, 65535, &port) == 0)
            i++;
        else if (v && strcmp(argv[i], "--threads") == 0 && num_long(v, 1, 1024, &threads) == 0)
            i++;
        else {
            fprintf(stderr, "usage: mhd_ceiling [--port N] [--threads N]\n");
            return 2;
        }
    }
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
                         NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_ceiling: cannot start the daemon on port %ld\n", port);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("port %u\n", info ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);
    if (sigwait(&set, &sig) != 0)
        sig = SIGTERM;
    MHD_stop_daemon(d);
    return 0;
}
