/* inet_sockets: loopback TCP and UDP over 127.0.0.1 and ::1: a TCP echo with a forked
 * peer, names of both ends, a UDP round trip, non-blocking connect, refused connects,
 * shutdown, options and errno cases. Port numbers differ between runs and hosts, so
 * they are printed only as comparisons. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

/* an address of either family, as the probe prints it: family, address text, and
 * whether the port is zero */
static void show_name(const char *what, const struct sockaddr_storage *ss, socklen_t len) {
    char text[INET6_ADDRSTRLEN] = "?";
    int port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        port = ntohs(in6->sin6_port);
    }
    printf("%s: family %s len %u addr %s port %s\n", what, ss->ss_family == AF_INET ? "inet" : "inet6",
           (unsigned)len, text, port ? "set" : "zero");
}

static int port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static socklen_t loopback(int family, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (void *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (void *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_loopback;
    return sizeof *in6;
}

static void tcp_echo(int family, const char *tag) {
    char name[64];
    struct sockaddr_storage ss, peer;
    socklen_t len = loopback(family, 0, &ss), plen;
    int server = socket(family, SOCK_STREAM, 0);
    int one = 1;
    snprintf(name, sizeof name, "%s reuseaddr", tag);
    show(name, setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    snprintf(name, sizeof name, "%s bind", tag);
    show(name, bind(server, (struct sockaddr *)&ss, len));
    snprintf(name, sizeof name, "%s listen", tag);
    show(name, listen(server, 4));
    printf("%s acceptconn: %d\n", tag, int_option(server, SOL_SOCKET, SO_ACCEPTCONN));
    int port = port_of(server);
    printf("%s ephemeral: %s\n", tag, port >= 1024 ? "yes" : "no");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int client = socket(family, SOCK_STREAM, 0);
        struct sockaddr_storage to;
        socklen_t tolen = loopback(family, port, &to);
        if (connect(client, (struct sockaddr *)&to, tolen) < 0) _exit(1);
        char buf[64];
        ssize_t n = recv(client, buf, sizeof buf, 0);
        if (n <= 0) _exit(2);
        for (ssize_t i = 0; i < n; i++) buf[i] = (char)(buf[i] - 'a' + 'A');
        if (send(client, buf, (size_t)n, 0) != n) _exit(3);
        shutdown(client, SHUT_WR);
        if (recv(client, buf, sizeof buf, 0) != 0) _exit(4);
        _exit(0);
    }
    plen = sizeof peer;
    int conn = accept4(server, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    snprintf(name, sizeof name, "%s accepted", tag);
    show(name, conn >= 0 ? 0 : -1);
    snprintf(name, sizeof name, "%s accept peer", tag);
    show_name(name, &peer, plen);
    struct sockaddr_storage here;
    socklen_t hlen = sizeof here;
    getsockname(conn, (struct sockaddr *)&here, &hlen);
    snprintf(name, sizeof name, "%s accepted name", tag);
    show_name(name, &here, hlen);
    printf("%s same port: %s\n", tag, port_of(conn) == port ? "yes" : "no");
    printf("%s nodelay: %d\n", tag, int_option(conn, IPPROTO_TCP, TCP_NODELAY));
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    printf("%s nodelay set: %d\n", tag, int_option(conn, IPPROTO_TCP, TCP_NODELAY));
    snprintf(name, sizeof name, "%s send", tag);
    show(name, send(conn, "hello", 5, 0));
    snprintf(name, sizeof name, "%s echo", tag);
    show_recv(name, conn, 5, MSG_WAITALL);
    snprintf(name, sizeof name, "%s eof", tag);
    show_recv(name, conn, 5, 0);
    close(conn);
    int status;
    waitpid(child, &status, 0);
    printf("%s child: %d\n", tag, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    close(server);
}

static void tcp_names(void) {
    struct sockaddr_storage ss, got;
    socklen_t len = loopback(AF_INET, 0, &ss), glen;
    int server = socket(AF_INET, SOCK_STREAM, 0);
    bind(server, (struct sockaddr *)&ss, len);
    listen(server, 4);
    int client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    glen = sizeof got;
    getsockname(client, (struct sockaddr *)&got, &glen);
    show_name("unbound name", &got, glen);
    glen = sizeof got;
    show("unbound peer", getpeername(client, (struct sockaddr *)&got, &glen));
    len = loopback(AF_INET, port_of(server), &ss);
    int r = connect(client, (struct sockaddr *)&ss, len);
    printf("nonblocking connect: %s\n", r == 0 || errno == EINPROGRESS ? "pending or done" : en(errno));
    struct pollfd p = { client, POLLOUT, 0 };
    printf("connect poll: %d\n", poll(&p, 1, 5000));
    printf("connect so_error: %d\n", int_option(client, SOL_SOCKET, SO_ERROR));
    show("connect again", connect(client, (struct sockaddr *)&ss, len));
    int conn = accept(server, NULL, NULL);
    glen = sizeof got;
    getpeername(client, (struct sockaddr *)&got, &glen);
    show_name("client peer", &got, glen);
    glen = sizeof got;
    getsockname(client, (struct sockaddr *)&got, &glen);
    show_name("client name", &got, glen);
    show_recv("nothing yet", client, 10, 0);
    show("shutdown rd", shutdown(conn, SHUT_RD));
    show("send after peer shut rd", send(client, "x", 1, MSG_NOSIGNAL));
    show("shutdown wr", shutdown(conn, SHUT_WR));
    show_recv("eof after shut wr", client, 10, 0);
    close(conn);
    close(client);

    /* a bound port nobody listens on refuses connections */
    int bound = socket(AF_INET, SOCK_STREAM, 0);
    len = loopback(AF_INET, 0, &ss);
    bind(bound, (struct sockaddr *)&ss, len);
    len = loopback(AF_INET, port_of(bound), &ss);
    int refused = socket(AF_INET, SOCK_STREAM, 0);
    show("refused", connect(refused, (struct sockaddr *)&ss, len));
    int used = socket(AF_INET, SOCK_STREAM, 0);
    show("port in use", bind(used, (struct sockaddr *)&ss, len));
    struct sockaddr_in far = { .sin_family = AF_INET, .sin_port = htons(1) };
    far.sin_addr.s_addr = htonl(0xC0000201);  /* 192.0.2.1: not a local address */
    show("bind foreign", bind(used, (struct sockaddr *)&far, sizeof far));
    show("listen udp", listen(socket(AF_INET, SOCK_DGRAM, 0), 1));
    show("stream with udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    show("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0, 0}));
    printf("unknown tcp option: %d\n", int_option(used, IPPROTO_TCP, 9999));
    printf("type %d domain %d protocol %d\n", int_option(used, SOL_SOCKET, SO_TYPE),
           int_option(used, SOL_SOCKET, SO_DOMAIN), int_option(used, SOL_SOCKET, SO_PROTOCOL));
    close(refused);
    close(used);
    close(bound);
    close(server);
}

static void udp_round_trip(int family, const char *tag) {
    char name[64];
    struct sockaddr_storage ss, from;
    socklen_t len = loopback(family, 0, &ss), flen;
    int a = socket(family, SOCK_DGRAM, 0), b = socket(family, SOCK_DGRAM, 0);
    bind(a, (struct sockaddr *)&ss, len);
    len = loopback(family, port_of(a), &ss);
    snprintf(name, sizeof name, "%s sendto", tag);
    show(name, sendto(b, "ping", 4, 0, (struct sockaddr *)&ss, len));
    char buf[16];
    flen = sizeof from;
    ssize_t n = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    printf("%s recvfrom: %zd '%.*s'\n", tag, n, (int)(n > 0 ? n : 0), buf);
    snprintf(name, sizeof name, "%s source", tag);
    show_name(name, &from, flen);
    printf("%s source port matches: %s\n", tag, port_of(b) == ntohs(((struct sockaddr_in *)&from)->sin_port) ? "yes" : "no");
    snprintf(name, sizeof name, "%s reply", tag);
    show(name, sendto(a, "pong!", 5, 0, (struct sockaddr *)&from, flen));
    snprintf(name, sizeof name, "%s truncated", tag);
    show_recv(name, b, 3, 0);
    snprintf(name, sizeof name, "%s empty", tag);
    show_recv(name, b, 3, MSG_DONTWAIT);
    snprintf(name, sizeof name, "%s send unconnected", tag);
    show(name, send(b, "x", 1, 0));
    close(a);
    close(b);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    tcp_echo(AF_INET, "tcp4");
    tcp_echo(AF_INET6, "tcp6");
    tcp_names();
    udp_round_trip(AF_INET, "udp4");
    udp_round_trip(AF_INET6, "udp6");
    return 0;
}
