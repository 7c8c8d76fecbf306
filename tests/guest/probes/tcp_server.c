/* tcp_server: what event-driven servers such as nginx and redis ask of a loopback TCP
 * socket: TCP_CORK and keep-alive options, FIONBIO and FIONREAD (on AF_UNIX too), accept4 with
 * SOCK_NONBLOCK, epoll with EPOLLEXCLUSIVE and EPOLLRDHUP, two SO_REUSEPORT listeners
 * on one port, and sendfile from a file to a socket (with and without an offset, past
 * the end, after a writev of headers). Port numbers are never printed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "report.h"

#define FILE_NAME "tcp-server-probe-file"
#define FILE_SIZE 70000

static void set_int(int fd, int level, int name, int value) {
    if (setsockopt(fd, level, name, &value, sizeof value) < 0) perror("setsockopt");
}

/* a listener on 127.0.0.1 at `port` (0: any), its port stored back */
static int listener(unsigned short *port, int reuseport) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (reuseport) set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { show("bind", -1); return -1; }
    if (listen(fd, 511) < 0) perror("listen");
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_to(unsigned short port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) perror("connect");
    return fd;
}

/* read exactly n bytes (the peer may deliver them in pieces) */
static long read_exactly(int fd, unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) return r < 0 ? -1 : (long)got;
        got += (size_t)r;
    }
    return (long)got;
}

static unsigned char file_byte(size_t i) { return (unsigned char)(i * 7 + i / 251); }

static int same_as_file(const unsigned char *buf, size_t n, size_t from) {
    for (size_t i = 0; i < n; i++)
        if (buf[i] != file_byte(from + i)) return 0;
    return 1;
}

static void options(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    printf("cork default: %d\n", int_option(fd, IPPROTO_TCP, TCP_CORK));
    set_int(fd, IPPROTO_TCP, TCP_CORK, 5);
    printf("cork after 5: %d\n", int_option(fd, IPPROTO_TCP, TCP_CORK));
    set_int(fd, IPPROTO_TCP, TCP_CORK, 0);
    printf("cork after 0: %d\n", int_option(fd, IPPROTO_TCP, TCP_CORK));
    printf("keepalive default: %d\n", int_option(fd, SOL_SOCKET, SO_KEEPALIVE));
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    printf("keepalive after 1: %d\n", int_option(fd, SOL_SOCKET, SO_KEEPALIVE));
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 300);
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 100);
    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
    printf("keepidle/intvl/cnt: %d %d %d\n", int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE),
           int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL), int_option(fd, IPPROTO_TCP, TCP_KEEPCNT));
    int on = 1;
    show("ioctl FIONBIO 1", ioctl(fd, FIONBIO, &on));
    printf("nonblock after FIONBIO: %d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    on = 0;
    show("ioctl FIONBIO 0", ioctl(fd, FIONBIO, &on));
    printf("nonblock after FIONBIO 0: %d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    close(fd);
}

static void accepting(void) {
    unsigned short port = 0;
    int server = listener(&port, 0);
    int on = 1;
    ioctl(server, FIONBIO, &on);
    show("accept on empty non-blocking listener", accept4(server, NULL, NULL, SOCK_NONBLOCK));

    int ep1 = epoll_create1(EPOLL_CLOEXEC), ep2 = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = 1};
    show("epoll_ctl add exclusive", epoll_ctl(ep1, EPOLL_CTL_ADD, server, &ev));
    show("epoll_ctl add exclusive again", epoll_ctl(ep2, EPOLL_CTL_ADD, server, &ev));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    show("epoll_ctl add exclusive oneshot", epoll_ctl(epoll_create1(0), EPOLL_CTL_ADD, server, &ev));
    ev.events = EPOLLIN;
    show("epoll_ctl mod exclusive", epoll_ctl(ep1, EPOLL_CTL_MOD, server, &ev));

    struct epoll_event out[4];
    show("ready before connect", epoll_wait(ep1, out, 4, 0));
    int client = connect_to(port);
    show("ready after connect (set 1)", epoll_wait(ep1, out, 4, 100));
    show("ready after connect (set 2)", epoll_wait(ep2, out, 4, 100));

    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int conn = accept4(server, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK);
    printf("accepted: %d, peer is loopback: %d, length: %u\n", conn >= 0,
           peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK), plen);
    printf("accepted non-blocking: %d\n", (fcntl(conn, F_GETFL) & O_NONBLOCK) != 0);
    printf("listener keeps its flags: %d\n", (fcntl(server, F_GETFL) & O_NONBLOCK) != 0);
    set_int(conn, IPPROTO_TCP, TCP_NODELAY, 1);
    show("read with nothing sent", read(conn, out, 1));

    int conn_ep = epoll_create1(0);
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = 7;
    epoll_ctl(conn_ep, EPOLL_CTL_ADD, conn, &ev);
    show("send five", send(client, "hello", 5, 0));
    int pending = -1;
    show("ioctl FIONREAD", ioctl(conn, FIONREAD, &pending));
    printf("FIONREAD: %d\n", pending);
    int n = epoll_wait(conn_ep, out, 4, 100);
    printf("events after data: %d %#x\n", n, n > 0 ? out[0].events : 0);
    shutdown(client, SHUT_WR);
    n = epoll_wait(conn_ep, out, 4, 100);
    printf("events after peer SHUT_WR: %d %#x\n", n, n > 0 ? out[0].events : 0);
    char buf[16];
    show("read the data", read(conn, buf, sizeof buf));
    show("read at EOF", read(conn, buf, sizeof buf));
    close(client);
    close(conn);
    close(conn_ep);
    close(ep1);
    close(ep2);
    close(server);
}

static void show_inq(const char *name, int fd) {
    int pending = -1;
    if (ioctl(fd, FIONREAD, &pending) < 0) printf("%s: -1 %s\n", name, en(errno));
    else printf("%s: %d\n", name, pending);
}

/* FIONREAD counts every unread byte of a stream and the next message of a datagram socket */
static void bytes_waiting(void) {
    unsigned short port = 0;
    int server = listener(&port, 0);
    show_inq("FIONREAD on a listener", server);
    close(server);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    show_inq("FIONREAD on an empty UDP socket", udp);
    close(udp);
    int types[2] = {SOCK_STREAM, SOCK_DGRAM};
    for (int i = 0; i < 2; i++) {
        int pair[2];
        socketpair(AF_UNIX, types[i], 0, pair);
        show_inq(i ? "FIONREAD unix dgram empty" : "FIONREAD unix stream empty", pair[1]);
        send(pair[0], "abc", 3, 0);
        send(pair[0], "defgh", 5, 0);
        show_inq(i ? "FIONREAD unix dgram 3+5" : "FIONREAD unix stream 3+5", pair[1]);
        char buf[2];
        recv(pair[1], buf, 2, 0);
        show_inq(i ? "FIONREAD unix dgram after reading 2" : "FIONREAD unix stream after reading 2", pair[1]);
        close(pair[0]);
        close(pair[1]);
    }
}

static void reuseport(void) {
    unsigned short port = 0;
    int first = listener(&port, 1);
    unsigned short same = port;
    int second = listener(&same, 1);
    printf("second SO_REUSEPORT listener on the same port: %d\n", second >= 0 && same == port);
    unsigned short again = port;
    int third = listener(&again, 0);
    printf("a third without SO_REUSEPORT: %d\n", third >= 0);
    int clients[4];
    for (int i = 0; i < 4; i++) clients[i] = connect_to(port);
    int total = 0, fds[2] = {first, second};
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        int c;
        while ((c = accept(fds[i], NULL, NULL)) >= 0) { total++; close(c); }
    }
    printf("connections accepted across both: %d\n", total);
    for (int i = 0; i < 4; i++) close(clients[i]);
    if (third >= 0) close(third);
    close(first);
    close(second);
}

static void sending_files(void) {
    unsigned char *data = malloc(FILE_SIZE);
    for (size_t i = 0; i < FILE_SIZE; i++) data[i] = file_byte(i);
    int file = open(FILE_NAME, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (write(file, data, FILE_SIZE) != FILE_SIZE) perror("write");
    lseek(file, 0, SEEK_SET);

    unsigned short port = 0;
    int server = listener(&port, 0);
    int client = connect_to(port);
    int conn = accept(server, NULL, NULL);
    unsigned char *got = malloc(FILE_SIZE);

    /* headers by writev, then the body by sendfile, as nginx does with sendfile on */
    set_int(conn, IPPROTO_TCP, TCP_CORK, 1);
    struct iovec head[2] = {{"HTTP/1.1 200 OK\r\n", 17}, {"\r\n", 2}};
    show("writev headers", writev(conn, head, 2));
    off_t offset = 1000;
    show("sendfile with offset", sendfile(conn, file, &offset, 5000));
    printf("offset after: %ld, file position: %ld\n", (long)offset, (long)lseek(file, 0, SEEK_CUR));
    set_int(conn, IPPROTO_TCP, TCP_CORK, 0);
    char header[19];
    read_exactly(client, (unsigned char *)header, sizeof header);
    printf("headers arrived: %d\n", memcmp(header, "HTTP/1.1 200 OK\r\n\r\n", 19) == 0);
    long n = read_exactly(client, got, 5000);
    printf("body bytes: %ld, same as the file: %d\n", n, n == 5000 && same_as_file(got, 5000, 1000));

    /* without an offset the file position moves */
    lseek(file, 60000, SEEK_SET);
    show("sendfile from the file position", sendfile(conn, file, NULL, 20000));
    printf("file position after: %ld\n", (long)lseek(file, 0, SEEK_CUR));
    n = read_exactly(client, got, 10000);
    printf("tail bytes: %ld, same as the file: %d\n", n, n == 10000 && same_as_file(got, 10000, 60000));
    show("sendfile at the end", sendfile(conn, file, NULL, 100));
    offset = FILE_SIZE + 10;
    show("sendfile past the end", sendfile(conn, file, &offset, 100));

    /* a whole file through a non-blocking socket, in as many calls as it takes; the
     * reader drains between calls so the writer never waits */
    fcntl(conn, F_SETFL, O_NONBLOCK);
    offset = 0;
    long sent = 0, received = 0;
    int calls_ok = 1;
    while (offset < FILE_SIZE) {
        ssize_t r = sendfile(conn, file, &offset, FILE_SIZE - offset);
        if (r < 0 && errno != EAGAIN) { calls_ok = 0; break; }
        if (r > 0) sent += r;
        ssize_t m = read(client, got + received, FILE_SIZE - received);
        if (m > 0) received += m;
    }
    received += read_exactly(client, got + received, FILE_SIZE - received);
    printf("whole file: sent %ld, received %ld, calls ok %d, same as the file: %d\n", sent, received,
           calls_ok, received == FILE_SIZE && same_as_file(got, FILE_SIZE, 0));

    show("sendfile from a socket", sendfile(conn, client, NULL, 10));
    int wronly = open(FILE_NAME, O_WRONLY);
    show("sendfile from a write-only file", sendfile(conn, wronly, NULL, 10));
    close(wronly);
    close(client);
    close(conn);
    close(server);
    close(file);
    unlink(FILE_NAME);
    free(data);
    free(got);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    options();
    accepting();
    bytes_waiting();
    reuseport();
    sending_files();
    return 0;
}
