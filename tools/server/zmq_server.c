/* The ZeroMQ transport: one REP socket, one msgpack request and reply at a
 * time. The loop polls with a timeout so that a signal's flag is seen even
 * when no client is talking. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "server/protocol.h"
#include "server/server_error.h"

#define POLL_MS 200

/* Receives every frame of one request; a request must be a single frame. */
static int recv_request(void *sock, zmq_msg_t *msg, int *multipart)
{
    *multipart = 0;
    if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) return -1;
    int more = 0;
    size_t sz = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, sock, 0) < 0) {
            zmq_msg_close(&extra);
            return -1;
        }
        zmq_msg_close(&extra);
        *multipart = 1;
    }
    return 0;
}

static int serve_one(proto_server *s, void *sock, msgpack_sbuffer *reply, int *stop_now)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int multipart;
    if (recv_request(sock, &msg, &multipart) != 0) {
        zmq_msg_close(&msg);
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    proto_log log;
    proto_log_init(&log);
    int rc;
    if (multipart) {
        msgpack_packer pk;
        msgpack_sbuffer_clear(reply);
        msgpack_packer_init(&pk, reply, msgpack_sbuffer_write);
        const char *m = "a request must be one message frame";
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str(&pk, 5);
        msgpack_pack_str_body(&pk, "error", 5);
        msgpack_pack_str(&pk, strlen(m));
        msgpack_pack_str_body(&pk, m, strlen(m));
        proto_log_fail(&log, m);
        rc = 0;
    } else {
        rc = proto_handle_msgpack(s, zmq_msg_data(&msg), zmq_msg_size(&msg), reply, &log);
    }
    zmq_msg_close(&msg);
    if (rc != 0) {
        /* Even the error reply could not be built: REP still owes an answer. */
        msgpack_sbuffer_clear(reply);
        static const char oom[] = "\x81\xa5" "error" "\xad" "out of memory";
        msgpack_sbuffer_write(reply, oom, sizeof oom - 1);
        proto_log_fail(&log, "out of memory");
    }
    for (;;) {
        if (zmq_send(sock, reply->data, reply->size, 0) >= 0) break;
        if (errno != EINTR) {
            fprintf(stderr, "groot serve: cannot send a reply: %s\n", zmq_strerror(errno));
            break;
        }
    }
    proto_log_print(&log, "zmq");
    /* Give the buffer back after a large reply instead of holding it forever. */
    if (reply->alloc > (1u << 20)) {
        msgpack_sbuffer_destroy(reply);
        msgpack_sbuffer_init(reply);
    }
    *stop_now = log.stop;
    return 0;
}

int zmq_serve(proto_server *s, const char *host, int port, volatile sig_atomic_t *stop, char *err, size_t errsz)
{
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "tcp://%s:%d", host, port);
    void *ctx = zmq_ctx_new();
    if (!ctx) return srv_fail(err, errsz, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
    void *sock = zmq_socket(ctx, ZMQ_REP);
    if (!sock) {
        zmq_ctx_term(ctx);
        return srv_fail(err, errsz, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    }
    /* libzmq drops a peer whose message is over the limit before buffering it
     * (that client sees a timeout, not a reply): the only way to refuse a
     * multi-gigabyte message without holding it in memory. */
    int64_t maxmsg = (int64_t)s->max_message_bytes;
    int linger = 1000; /* lets the last reply (to kill) leave before closing */
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(sock, endpoint) != 0) {
        srv_fail(err, errsz, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return -1;
    }
    fprintf(stderr, "groot serve: listening on %s (ZeroMQ REP, msgpack)\n", endpoint);

    msgpack_sbuffer reply;
    msgpack_sbuffer_init(&reply);
    int rc = 0;
    while (!*stop) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, POLL_MS);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = srv_fail(err, errsz, "ZeroMQ poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (n == 0 || !(item.revents & ZMQ_POLLIN)) continue;
        int stop_now = 0;
        if (serve_one(s, sock, &reply, &stop_now) != 0) {
            rc = srv_fail(err, errsz, "ZeroMQ receive failed: %s", zmq_strerror(errno));
            break;
        }
        if (stop_now) {
            fprintf(stderr, "groot serve: stopping on a kill request\n");
            break;
        }
    }
    msgpack_sbuffer_destroy(&reply);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
