/*
 * An SCTP peer made of usrsctp (the SCTP stack Chromium and Firefox ship),
 * driven over stdin/stdout so meshrtc's tests can use it as an oracle
 * without linking C into Rust. usrsctp runs with AF_CONN: it hands every
 * packet it wants to send to conn_output instead of a socket.
 *
 * Frames both ways: type (1 byte), length (4 bytes, big-endian), payload.
 *   in  'P' packet        an SCTP packet for usrsctp
 *   in  'S' send          sid (2) ppid (4) unordered (1) data
 *   in  'R' reset         sid (2): reset our outgoing stream
 *   in  'C' close         graceful shutdown
 *   out 'P' packet        an SCTP packet usrsctp sent
 *   out 'M' message       sid (2) ppid (4) data (a complete message)
 *   out 'U' up            the association is established
 *   out 'I' reset-in      sid (2): the peer reset its outgoing stream
 *   out 'D' down          the association ended (shutdown or abort)
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <usrsctp.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int token;
static unsigned char *partial;
static size_t partial_len;

static void emit(char type, const void *a, size_t alen, const void *b, size_t blen) {
    unsigned char hdr[5];
    uint32_t n = htonl((uint32_t)(alen + blen));
    hdr[0] = (unsigned char)type;
    memcpy(hdr + 1, &n, 4);
    pthread_mutex_lock(&out_lock);
    fwrite(hdr, 1, 5, stdout);
    if (alen) fwrite(a, 1, alen, stdout);
    if (blen) fwrite(b, 1, blen, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static int conn_output(void *addr, void *buf, size_t len, uint8_t tos, uint8_t set_df) {
    (void)addr; (void)tos; (void)set_df;
    emit('P', buf, len, NULL, 0);
    return 0;
}

static void notification(const union sctp_notification *n) {
    switch (n->sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        if (n->sn_assoc_change.sac_state == SCTP_COMM_UP) emit('U', NULL, 0, NULL, 0);
        else if (n->sn_assoc_change.sac_state == SCTP_SHUTDOWN_COMP ||
                 n->sn_assoc_change.sac_state == SCTP_COMM_LOST)
            emit('D', NULL, 0, NULL, 0);
        break;
    case SCTP_STREAM_RESET_EVENT: {
        const struct sctp_stream_reset_event *e = &n->sn_strreset_event;
        if (e->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) {
            size_t count = (e->strreset_length - sizeof(*e)) / sizeof(uint16_t);
            for (size_t i = 0; i < count; i++) {
                uint16_t sid = htons(e->strreset_stream_list[i]);
                emit('I', &sid, 2, NULL, 0);
            }
        }
        break;
    }
    default:
        break;
    }
}

static int receive_cb(struct socket *sock, union sctp_sockstore addr, void *data, size_t len,
                      struct sctp_rcvinfo rcv, int flags, void *ulp) {
    (void)sock; (void)addr; (void)ulp;
    if (data == NULL) return 1;
    if (flags & MSG_NOTIFICATION) {
        notification((const union sctp_notification *)data);
    } else {
        partial = realloc(partial, partial_len + len);
        memcpy(partial + partial_len, data, len);
        partial_len += len;
        if (flags & MSG_EOR) {
            unsigned char head[6];
            uint16_t sid = htons(rcv.rcv_sid);
            memcpy(head, &sid, 2);
            memcpy(head + 2, &rcv.rcv_ppid, 4); /* already network order */
            emit('M', head, 6, partial, partial_len);
            partial_len = 0;
        }
    }
    free(data);
    return 1;
}

static int read_exact(void *buf, size_t n) {
    return fread(buf, 1, n, stdin) == n;
}

/* Not in every usrsctp.h; the value of FreeBSD's netinet/sctp.h. */
#ifndef SCTP_INTERLEAVING_SUPPORTED
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206
#endif

int main(int argc, char **argv) {
    /* "idata": offer I-DATA (RFC 8260), as Firefox does. */
    int idata = argc > 1 && strcmp(argv[1], "idata") == 0;
    usrsctp_init(0, conn_output, NULL);
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_rto_min_default(100);
    usrsctp_sysctl_set_sctp_rto_initial_default(300);
    usrsctp_register_address(&token);
    struct socket *s = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, receive_cb, NULL, 0, NULL);
    if (s == NULL) return 2;
    const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT};
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        struct sctp_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.se_assoc_id = SCTP_ALL_ASSOC;
        ev.se_type = events[i];
        ev.se_on = 1;
        usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev));
    }
    int buffer = 1024 * 1024; /* room for a 256 KiB message */
    usrsctp_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    usrsctp_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
    int on = 1;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on));
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on));
    struct sctp_assoc_value av = {SCTP_ALL_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof(av));
    if (idata) {
        /* Interleaving needs fragment interleave level 2 first. */
        int level = 2;
        if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof(level)) < 0)
            return 3;
        struct sctp_assoc_value il = {SCTP_ALL_ASSOC, 1};
        if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &il, sizeof(il)) < 0)
            return 4;
    }
    struct sctp_initmsg init;
    memset(&init, 0, sizeof(init));
    init.sinit_num_ostreams = 1024;
    init.sinit_max_instreams = 1024;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init));
    struct sockaddr_conn sconn;
    memset(&sconn, 0, sizeof(sconn));
    sconn.sconn_family = AF_CONN;
    sconn.sconn_port = htons(5000);
    sconn.sconn_addr = &token;
    if (usrsctp_bind(s, (struct sockaddr *)&sconn, sizeof(sconn)) < 0) return 3;
    usrsctp_set_non_blocking(s, 1);
    usrsctp_connect(s, (struct sockaddr *)&sconn, sizeof(sconn)); /* EINPROGRESS */

    for (;;) {
        unsigned char hdr[5];
        if (!read_exact(hdr, 5)) break;
        uint32_t n;
        memcpy(&n, hdr + 1, 4);
        n = ntohl(n);
        unsigned char *body = malloc(n ? n : 1);
        if (n && !read_exact(body, n)) break;
        switch (hdr[0]) {
        case 'P':
            usrsctp_conninput(&token, body, n, 0);
            break;
        case 'S': {
            if (n < 7) break;
            struct sctp_sndinfo snd;
            memset(&snd, 0, sizeof(snd));
            uint16_t sid;
            memcpy(&sid, body, 2);
            snd.snd_sid = ntohs(sid);
            memcpy(&snd.snd_ppid, body + 2, 4); /* network order, as usrsctp wants */
            if (body[6]) snd.snd_flags |= SCTP_UNORDERED;
            for (int tries = 0; tries < 2000; tries++) {
                if (usrsctp_sendv(s, body + 7, n - 7, NULL, 0, &snd, sizeof(snd), SCTP_SENDV_SNDINFO, 0) >= 0)
                    break;
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
            break;
        }
        case 'R': {
            if (n < 2) break;
            size_t sz = sizeof(struct sctp_reset_streams) + sizeof(uint16_t);
            struct sctp_reset_streams *r = calloc(1, sz);
            uint16_t sid;
            memcpy(&sid, body, 2);
            r->srs_assoc_id = SCTP_ALL_ASSOC;
            r->srs_flags = SCTP_STREAM_RESET_OUTGOING;
            r->srs_number_streams = 1;
            r->srs_stream_list[0] = ntohs(sid);
            usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RESET_STREAMS, r, (socklen_t)sz);
            free(r);
            break;
        }
        case 'C':
            usrsctp_shutdown(s, SHUT_WR);
            break;
        default:
            break;
        }
        free(body);
    }
    usrsctp_close(s);
    return 0;
}
