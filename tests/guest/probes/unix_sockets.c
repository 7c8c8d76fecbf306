/* unix_sockets: AF_UNIX socket pairs (stream, datagram, seqpacket): data transfer,
 * peeking, message boundaries and truncation, shutdown and close with EOF/EPIPE/SIGPIPE,
 * poll readiness, a full socket, blocking calls woken by a child, iovecs, descriptor
 * passing (SCM_RIGHTS, MSG_CTRUNC, MSG_CMSG_CLOEXEC), credentials (SO_PASSCRED,
 * SO_PEERCRED), options, names, fstat and errno cases. Values that differ between
 * hosts (pids, ids, buffer fill counts) are printed only as comparisons. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

static void show_poll(const char *name, int fd) {
    struct pollfd p = { fd, POLLIN | POLLOUT | POLLRDHUP, 0 };
    int n = poll(&p, 1, 0);
    printf("%s: %d", name, n);
    if (p.revents & POLLIN) printf(" IN");
    if (p.revents & POLLOUT) printf(" OUT");
    if (p.revents & POLLHUP) printf(" HUP");
    if (p.revents & POLLRDHUP) printf(" RDHUP");
    if (p.revents & POLLERR) printf(" ERR");
    printf("\n");
}

static int sigpipes;
static void on_sigpipe(int signo) { (void)signo; sigpipes++; }

static void pairs(void) {
    static const int kinds[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW };
    static const char *names[] = { "stream", "dgram", "seqpacket", "raw" };
    for (int i = 0; i < 4; i++) {
        int sv[2];
        char label[64];
        snprintf(label, sizeof label, "socketpair %s", names[i]);
        show(label, socketpair(AF_UNIX, kinds[i], 0, sv));
        int type = -1;
        socklen_t len = sizeof type;
        getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len);
        printf("%s SO_TYPE: %d len %d\n", names[i], type, (int)len);
        snprintf(label, sizeof label, "%s send", names[i]);
        show(label, send(sv[0], "ping", 4, 0));
        snprintf(label, sizeof label, "%s recv", names[i]);
        show_recv(label, sv[1], 100, 0);
        close(sv[0]);
        close(sv[1]);
    }
    int sv[2];
    show("socketpair bad type", socketpair(AF_UNIX, 4, 0, sv));
    show("socketpair type 12", socketpair(AF_UNIX, 12, 0, sv));
    show("socketpair bad protocol", socketpair(AF_UNIX, SOCK_STREAM, 6, sv));
    show("socketpair bad flags", socketpair(AF_UNIX, SOCK_STREAM | 0x100, 0, sv));
    show("socketpair flags", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    printf("cloexec: %d nonblock: %d\n", fcntl(sv[0], F_GETFD) & FD_CLOEXEC,
           !!(fcntl(sv[1], F_GETFL) & O_NONBLOCK));
    show_recv("nonblocking empty recv", sv[0], 10, 0);
    struct stat st;
    fstat(sv[0], &st);
    printf("fstat socket: %d\n", S_ISSOCK(st.st_mode));
    struct sockaddr_un addr;
    socklen_t alen = sizeof addr;
    memset(&addr, 0xff, sizeof addr);
    show("getsockname", getsockname(sv[0], (struct sockaddr *)&addr, &alen));
    printf("getsockname: len %d family %d\n", (int)alen, addr.sun_family);
    alen = sizeof addr;
    show("getpeername", getpeername(sv[0], (struct sockaddr *)&addr, &alen));
    printf("getpeername: len %d family %d\n", (int)alen, addr.sun_family);
    int lone = socket(AF_UNIX, SOCK_STREAM, 0);
    alen = sizeof addr;
    show("getpeername unconnected", getpeername(lone, (struct sockaddr *)&addr, &alen));
    close(lone);
    struct ucred cred;
    socklen_t clen = sizeof cred;
    show("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &clen));
    printf("peercred: len %d pid %d uid %d gid %d\n", (int)clen, cred.pid == getpid(), cred.uid == geteuid(),
           cred.gid == getegid());
    int value = 10000;
    show("SO_SNDBUF set", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &value, sizeof value));
    socklen_t vlen = sizeof value;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &value, &vlen);
    printf("SO_SNDBUF: %d\n", value);
    value = 1;
    show("SO_RCVBUF set", setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &value, sizeof value));
    getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &value, &vlen);
    printf("SO_RCVBUF: %d\n", value);
    show("SO_ERROR", getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &value, &vlen));
    printf("SO_ERROR value: %d\n", value);
    show("SO_DOMAIN", getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &value, &vlen));
    printf("SO_DOMAIN value: %d\n", value);
    show("getsockopt TCP level", getsockopt(sv[0], 6, 1, &value, &vlen));
    show("getsockopt unknown", getsockopt(sv[0], SOL_SOCKET, 999, &value, &vlen));
    show("getsockopt bad len ptr", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &value, (socklen_t *)8));
    show("shutdown bad how", shutdown(sv[0], 3));
    int p[2];
    pipe(p);
    show("send on a pipe", send(p[1], "x", 1, 0));
    show("shutdown on a pipe", shutdown(p[1], SHUT_WR));
    close(p[0]);
    close(p[1]);
    show("send bad buffer", send(sv[0], (void *)8, 4, 0));
    close(sv[0]);
    close(sv[1]);
}

static void streams(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "abc", 3);
    write(sv[0], "def", 3);
    show_recv("stream peek", sv[1], 2, MSG_PEEK);
    char buf[8];
    show("stream read 4", read(sv[1], buf, 4));
    show_recv("stream rest", sv[1], 100, 0);
    show_recv("stream dontwait", sv[1], 100, MSG_DONTWAIT);
    show_poll("stream poll idle", sv[0]);
    struct iovec out[2] = { { "gath", 4 }, { "ered", 4 } };
    show("writev", writev(sv[0], out, 2));
    char one[3], two[16];
    struct iovec in[2] = { { one, 3 }, { two, sizeof two } };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = in;
    msg.msg_iovlen = 2;
    show("recvmsg vectors", recvmsg(sv[1], &msg, 0));
    printf("vectors: '%.3s' '%.5s' flags %d\n", one, two, msg.msg_flags);
    send(sv[0], "x", 1, 0);
    show_poll("stream poll data", sv[1]);
    recv(sv[1], buf, 1, 0);

    send(sv[0], "last", 4, 0);
    show("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
    show_poll("writer after SHUT_WR", sv[0]);
    show_poll("reader after SHUT_WR", sv[1]);
    show_recv("reader data", sv[1], 100, 0);
    show_recv("reader eof", sv[1], 100, 0);
    show("send after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show("reverse direction", send(sv[1], "back", 4, 0));
    show_recv("reverse recv", sv[0], 100, 0);
    show("shutdown SHUT_RD", shutdown(sv[0], SHUT_RD));
    show("peer send after SHUT_RD", send(sv[1], "x", 1, MSG_NOSIGNAL));
    show_poll("both shut", sv[0]);
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "tail", 4, 0);
    close(sv[0]);
    show_poll("after peer close", sv[1]);
    show_recv("drain after close", sv[1], 100, 0);
    show_recv("eof after close", sv[1], 100, 0);
    signal(SIGPIPE, on_sigpipe);
    show("write to closed peer", write(sv[1], "x", 1));
    show("send MSG_NOSIGNAL to closed peer", send(sv[1], "x", 1, MSG_NOSIGNAL));
    printf("sigpipes: %d\n", sigpipes);
    signal(SIGPIPE, SIG_DFL);
    close(sv[1]);
}

static void full_socket(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    static char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    long total = 0;
    ssize_t n;
    while ((n = write(sv[0], chunk, sizeof chunk)) > 0) total += n;
    printf("fill ends: %s, something written: %d\n", en(errno), total > 0);
    show_poll("full writer", sv[0]);
    long drained = 0;
    char buf[4096];
    while ((n = read(sv[1], buf, sizeof buf)) > 0) drained += n;
    printf("drained all: %d\n", drained == total);
    show_poll("drained writer", sv[0]);
    close(sv[0]);
    close(sv[1]);

    /* a blocking writer of a megabyte against a reader in another process */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t child = fork();
    if (child == 0) {
        close(sv[1]);
        for (int i = 0; i < 256; i++) {
            memset(chunk, 'a' + i % 26, sizeof chunk);
            size_t off = 0;
            while (off < sizeof chunk) {
                ssize_t w = write(sv[0], chunk + off, sizeof chunk - off);
                if (w <= 0) _exit(1);
                off += (size_t)w;
            }
        }
        _exit(0);
    }
    close(sv[0]);
    unsigned long sum = 0;
    total = 0;
    while ((n = read(sv[1], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
        total += n;
    }
    int status;
    waitpid(child, &status, 0);
    printf("megabyte: %ld bytes sum %lu child %d\n", total, sum, WEXITSTATUS(status));
    close(sv[1]);
}

static void woken(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t child = fork();
    if (child == 0) {
        send(sv[1], "1234", 4, 0);
        usleep(20000);
        send(sv[1], "5678", 4, 0);
        char c;
        recv(sv[1], &c, 1, 0);   /* wait for the parent's go */
        send(sv[1], "late", 4, 0);
        _exit(0);
    }
    close(sv[1]);
    char buf[16];
    show("waitall", recv(sv[0], buf, 8, MSG_WAITALL));
    printf("waitall data: '%.8s'\n", buf);
    send(sv[0], "g", 1, 0);
    show_recv("blocking recv woken", sv[0], 16, 0);
    waitpid(child, NULL, 0);
    show_recv("after child exit", sv[0], 16, 0);
    close(sv[0]);

    /* closing with data unread resets the peer */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[1], "unread", 6, 0);
    close(sv[0]);
    show_poll("reset peer", sv[1]);
    show_recv("reset recv", sv[1], 16, 0);
    show_recv("reset recv again", sv[1], 16, 0);
    close(sv[1]);
}

static void messages(void) {
    static const int kinds[] = { SOCK_DGRAM, SOCK_SEQPACKET };
    static const char *names[] = { "dgram", "seqpacket" };
    for (int i = 0; i < 2; i++) {
        int sv[2];
        char label[64];
        socketpair(AF_UNIX, kinds[i], 0, sv);
        send(sv[0], "first", 5, 0);
        send(sv[0], "second", 6, 0);
        send(sv[0], "0123456789", 10, 0);
        snprintf(label, sizeof label, "%s short recv", names[i]);
        show_recv(label, sv[1], 3, 0);
        snprintf(label, sizeof label, "%s MSG_TRUNC", names[i]);
        char buf[16];
        show(label, recv(sv[1], buf, 3, MSG_TRUNC));
        struct iovec iov = { buf, 4 };
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        snprintf(label, sizeof label, "%s recvmsg", names[i]);
        show(label, recvmsg(sv[1], &msg, 0));
        printf("%s recvmsg flags: trunc %d\n", names[i], !!(msg.msg_flags & MSG_TRUNC));
        snprintf(label, sizeof label, "%s empty", names[i]);
        show_recv(label, sv[1], 10, MSG_DONTWAIT);
        snprintf(label, sizeof label, "%s oob send", names[i]);
        show(label, send(sv[0], "x", 1, MSG_OOB));
        snprintf(label, sizeof label, "%s oob recv", names[i]);
        show(label, recv(sv[1], buf, 1, MSG_OOB));
        close(sv[0]);
        snprintf(label, sizeof label, "%s send to closed peer", names[i]);
        show(label, send(sv[1], "x", 1, MSG_NOSIGNAL));
        snprintf(label, sizeof label, "%s send again", names[i]);
        show(label, send(sv[1], "x", 1, MSG_NOSIGNAL));
        close(sv[1]);
    }
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    show("empty datagram", send(sv[0], "", 0, 0));
    show_recv("empty datagram recv", sv[1], 10, MSG_DONTWAIT);
    int size;
    socklen_t len = sizeof size;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, &len);
    char *big = calloc(1, (size_t)size);
    show("datagram over the send buffer", send(sv[0], big, (size_t)size, 0));
    free(big);
    struct sockaddr_un to = { AF_UNIX, "nowhere" };
    int st[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, st);
    show("sendto address on a stream pair", sendto(st[0], "x", 1, 0, (struct sockaddr *)&to, sizeof to));
    close(st[0]);
    close(st[1]);
    close(sv[0]);
    close(sv[1]);
}

/* send the descriptors in `fds` with one byte */
static long send_fds(int sock, const int *fds, int count) {
    char space[CMSG_SPACE(4 * 4)];
    memset(space, 0, sizeof space);
    struct iovec iov = { "F", 1 };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space;
    msg.msg_controllen = CMSG_SPACE(4 * count);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(4 * count);
    memcpy(CMSG_DATA(c), fds, 4 * (size_t)count);
    return sendmsg(sock, &msg, 0);
}

/* receive one byte with a control buffer of `room` bytes: prints what came */
static int recv_fds(const char *name, int sock, size_t room, int flags, int *fds) {
    char space[256];
    char byte;
    struct iovec iov = { &byte, 1 };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = room ? space : NULL;
    msg.msg_controllen = room;
    long n = recvmsg(sock, &msg, flags);
    if (n < 0) { printf("%s: -1 %s\n", name, en(errno)); return 0; }
    int got = 0;
    printf("%s: %ld controllen %zu ctrunc %d", name, n, (size_t)msg.msg_controllen, !!(msg.msg_flags & MSG_CTRUNC));
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        printf(" [len %zu level %d type %d]", (size_t)c->cmsg_len, c->cmsg_level, c->cmsg_type);
        if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(4)) {
            got = (int)((c->cmsg_len - CMSG_LEN(0)) / 4);
            memcpy(fds, CMSG_DATA(c), 4 * (size_t)got);
        }
    }
    printf(" fds %d\n", got);
    return got;
}

static void rights(void) {
    int sv[2], p[2], fds[4];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    show("send pipe write end", send_fds(sv[0], &p[1], 1));
    close(p[1]);
    if (recv_fds("recv rights", sv[1], CMSG_SPACE(4), MSG_CMSG_CLOEXEC, fds) == 1) {
        printf("received cloexec: %d\n", fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        write(fds[0], "through", 7);
        close(fds[0]);
        char buf[16];
        ssize_t n = read(p[0], buf, sizeof buf);
        printf("pipe got: '%.*s'\n", (int)n, buf);
        printf("pipe eof: %zd\n", read(p[0], buf, sizeof buf));
    }
    close(p[0]);

    pipe(p);
    show("send two", send_fds(sv[0], p, 2));
    int got = recv_fds("recv room for one", sv[1], CMSG_LEN(4), 0, fds);
    for (int i = 0; i < got; i++) close(fds[i]);
    show("send one more", send_fds(sv[0], p, 1));
    recv_fds("recv no control", sv[1], 0, 0, fds);
    show("send two again", send_fds(sv[0], p, 2));
    got = recv_fds("recv header only", sv[1], sizeof(struct cmsghdr), 0, fds);
    close(p[0]);
    close(p[1]);

    int bad = 999;
    show("send bad fd", send_fds(sv[0], &bad, 1));
    show_recv("nothing sent", sv[1], 10, MSG_DONTWAIT);

    /* a descriptor passed by a child to its parent */
    pid_t child = fork();
    if (child == 0) {
        int q[2];
        pipe(q);
        write(q[1], "from child", 10);
        close(q[1]);
        send_fds(sv[1], &q[0], 1);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    if (recv_fds("recv from child", sv[0], CMSG_SPACE(4), 0, fds) == 1) {
        char buf[16];
        ssize_t n = read(fds[0], buf, sizeof buf);
        printf("child pipe: '%.*s'\n", (int)n, buf);
        close(fds[0]);
    }
    close(sv[0]);
    close(sv[1]);
}

static void credentials(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int on = 1;
    show("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    int value;
    socklen_t len = sizeof value;
    getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &value, &len);
    printf("SO_PASSCRED value: %d\n", value);
    pid_t child = fork();
    if (child == 0) {
        send(sv[0], "c", 1, 0);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    char space[CMSG_SPACE(sizeof(struct ucred))];
    char byte;
    struct iovec iov = { &byte, 1 };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space;
    msg.msg_controllen = sizeof space;
    show("recv credentials", recvmsg(sv[1], &msg, 0));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred u;
        memcpy(&u, CMSG_DATA(c), sizeof u);
        printf("credentials: len %zu pid is child %d uid %d gid %d\n", (size_t)c->cmsg_len, u.pid == child,
               u.uid == getuid(), u.gid == getgid());
    } else {
        printf("credentials: none\n");
    }
    /* explicit credentials of one's own */
    struct ucred mine = { getpid(), getuid(), getgid() };
    memset(space, 0, sizeof space);
    msg.msg_controllen = sizeof space;
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof mine);
    memcpy(CMSG_DATA(c), &mine, sizeof mine);
    iov.iov_base = "e";
    show("send own credentials", sendmsg(sv[0], &msg, 0));
    c->cmsg_len = CMSG_LEN(4);
    show("send short credentials", sendmsg(sv[0], &msg, 0));
    close(sv[0]);
    close(sv[1]);
}

#define SOCK_PATH "unix-probe.sock"
#define DGRAM_PATH "unix-probe-dgram.sock"

static socklen_t path_address(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static void show_name(const char *name, int (*call)(int, struct sockaddr *, socklen_t *), int fd) {
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (call(fd, (struct sockaddr *)&a, &len) < 0) { printf("%s: -1 %s\n", name, en(errno)); return; }
    printf("%s: len %d", name, (int)len);
    if (len > offsetof(struct sockaddr_un, sun_path) && a.sun_path[0]) printf(" path '%s'", a.sun_path);
    printf("\n");
}

static int connect_to(const char *path, int type, int flags) {
    struct sockaddr_un a;
    socklen_t len = path_address(&a, path);
    int fd = socket(AF_UNIX, type | flags, 0);
    if (connect(fd, (struct sockaddr *)&a, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void addresses(void) {
    umask(022);
    struct sockaddr_un a;
    socklen_t len = path_address(&a, SOCK_PATH);
    int server = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind path", bind(server, (struct sockaddr *)&a, len));
    struct stat st;
    show("stat bound path", stat(SOCK_PATH, &st));
    printf("bound path: sock %d mode %o\n", S_ISSOCK(st.st_mode), (unsigned)(st.st_mode & 0777));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind taken path", bind(other, (struct sockaddr *)&a, len));
    close(other);
    struct sockaddr_un b;
    socklen_t blen = path_address(&b, "unix-probe-other.sock");
    show("bind a bound socket", bind(server, (struct sockaddr *)&b, blen));
    show_name("getsockname bound", getsockname, server);
    show("connect before listen", connect_to(SOCK_PATH, SOCK_STREAM, 0));
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("listen dgram", listen(dg, 1));
    close(dg);
    int unbound = socket(AF_UNIX, SOCK_STREAM, 0);
    show("listen unbound", listen(unbound, 1));
    char buf[32];
    show("recv unconnected stream", recv(unbound, buf, sizeof buf, 0));
    show("shutdown unconnected", shutdown(unbound, SHUT_WR));
    show("accept not listening", accept(unbound, NULL, NULL));
    close(unbound);
    show("listen", listen(server, 1));
    int accepting = -1;
    socklen_t alen = sizeof accepting;
    getsockopt(server, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &alen);
    printf("SO_ACCEPTCONN: %d\n", accepting);
    show_poll("listener idle", server);
    int client = connect_to(SOCK_PATH, SOCK_STREAM, SOCK_NONBLOCK);
    show("connect", client < 0 ? -1 : 0);
    show_poll("listener pending", server);
    show_name("client getpeername", getpeername, client);
    show_name("client getsockname", getsockname, client);
    show("early send", send(client, "early", 5, 0));
    struct sockaddr_un peer;
    socklen_t plen = sizeof peer;
    int conn = accept4(server, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    show("accept4", conn < 0 ? -1 : 0);
    printf("accepted: peer len %d cloexec %d\n", (int)plen, fcntl(conn, F_GETFD) & FD_CLOEXEC);
    show_name("accepted getsockname", getsockname, conn);
    show_name("accepted getpeername", getpeername, conn);
    show_recv("accepted recv", conn, 32, 0);
    send(conn, "reply", 5, 0);
    show_recv("client recv", client, 32, 0);
    struct ucred cred;
    socklen_t clen = sizeof cred;
    getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
    printf("accepted peercred: pid %d uid %d\n", cred.pid == getpid(), cred.uid == geteuid());
    show("connect connected", connect(client, (struct sockaddr *)&a, len));
    close(conn);
    close(client);

    fcntl(server, F_SETFL, O_NONBLOCK);
    show("accept none pending", accept(server, NULL, NULL));
    int c1 = connect_to(SOCK_PATH, SOCK_STREAM, SOCK_NONBLOCK);
    int c2 = connect_to(SOCK_PATH, SOCK_STREAM, SOCK_NONBLOCK);
    int c3 = connect_to(SOCK_PATH, SOCK_STREAM, SOCK_NONBLOCK);
    int c3_errno = errno;
    show("backlog 1", c1 < 0 ? -1 : 0);
    show("backlog 2", c2 < 0 ? -1 : 0);
    errno = c3_errno;
    if (c3 < 0) show("backlog 3", -1); else { show("backlog 3", 0); close(c3); }
    int a1 = accept(server, NULL, NULL);
    show("accept after backlog", a1 < 0 ? -1 : 0);
    close(a1);
    close(c1);
    show("connect nowhere", connect_to("unix-probe-missing.sock", SOCK_STREAM, 0));
    int plain = open("unix-probe-plain", O_CREAT | O_WRONLY, 0644);
    close(plain);
    show("connect to a regular file", connect_to("unix-probe-plain", SOCK_STREAM, 0));
    unlink("unix-probe-plain");
    show("connect wrong type", connect_to(SOCK_PATH, SOCK_SEQPACKET, 0));

    /* a blocking accept woken by a child that connects */
    fcntl(server, F_SETFL, 0);
    pid_t child = fork();
    if (child == 0) {
        int fd = connect_to(SOCK_PATH, SOCK_STREAM, 0);
        send(fd, "hi", 2, 0);
        recv(fd, buf, 1, 0);
        _exit(0);
    }
    close(c2 >= 0 ? accept(server, NULL, NULL) : -1);   /* the one left from the backlog */
    if (c2 >= 0) close(c2);
    conn = accept(server, NULL, NULL);
    show_recv("accepted from child", conn, 32, 0);
    close(conn);
    waitpid(child, NULL, 0);

    /* a connection its listener never accepted */
    client = connect_to(SOCK_PATH, SOCK_STREAM, 0);
    close(server);
    show_recv("listener closed before accept", client, 32, 0);
    show_recv("and then", client, 32, 0);
    close(client);
    show("connect after listener closed", connect_to(SOCK_PATH, SOCK_STREAM, 0));
    show("unlink", unlink(SOCK_PATH));

    /* abstract names */
    char name[64];
    int n = snprintf(name + 1, sizeof name - 1, "slimbox-probe-%d", (int)getpid());
    name[0] = 0;
    struct sockaddr_un abs;
    memset(&abs, 0, sizeof abs);
    abs.sun_family = AF_UNIX;
    memcpy(abs.sun_path, name, (size_t)n + 1);
    socklen_t abslen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    server = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("bind abstract", bind(server, (struct sockaddr *)&abs, abslen));
    other = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("bind abstract taken", bind(other, (struct sockaddr *)&abs, abslen));
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    getsockname(server, (struct sockaddr *)&got, &glen);
    printf("abstract name: length right %d same %d\n", glen == abslen, memcmp(got.sun_path, name, (size_t)n + 1) == 0);
    listen(server, 4);
    show("connect abstract", connect(other, (struct sockaddr *)&abs, abslen));
    conn = accept(server, NULL, NULL);
    send(other, "packet one", 10, 0);
    send(other, "two", 3, 0);
    show_recv("abstract seqpacket", conn, 5, 0);
    show_recv("abstract seqpacket next", conn, 32, 0);
    close(conn);
    close(other);
    close(server);
    other = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect abstract after close", connect(other, (struct sockaddr *)&abs, abslen));
    close(other);

    /* autobind */
    int autob = socket(AF_UNIX, SOCK_DGRAM, 0);
    sa_family_t fam = AF_UNIX;
    show("autobind", bind(autob, (struct sockaddr *)&fam, sizeof fam));
    glen = sizeof got;
    getsockname(autob, (struct sockaddr *)&got, &glen);
    int hex = 1;
    for (int i = 1; i < (int)glen - 2; i++)
        if (!strchr("0123456789abcdef", got.sun_path[i])) hex = 0;
    printf("autobind name: len %d abstract %d hex %d\n", (int)glen, got.sun_path[0] == 0, hex);
    show("autobind again", bind(autob, (struct sockaddr *)&fam, sizeof fam));

    /* datagrams to an address */
    int dserver = socket(AF_UNIX, SOCK_DGRAM, 0);
    len = path_address(&a, DGRAM_PATH);
    show("bind dgram", bind(dserver, (struct sockaddr *)&a, len));
    int anon = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("sendto path", sendto(anon, "anon", 4, 0, (struct sockaddr *)&a, len));
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    show("recvfrom unnamed sender", recvfrom(dserver, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("unnamed sender: len %d\n", (int)flen);
    show("sendto from autobound", sendto(autob, "auto", 4, 0, (struct sockaddr *)&a, len));
    flen = sizeof from;
    show("recvfrom autobound sender", recvfrom(dserver, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("autobound sender: len %d same %d\n", (int)flen, flen == glen && memcmp(&from, &got, flen) == 0);
    show("reply to sender", sendto(dserver, "back", 4, 0, (struct sockaddr *)&from, flen));
    show_recv("autobound got reply", autob, 32, 0);
    show("connect dgram", connect(anon, (struct sockaddr *)&a, len));
    show_name("dgram getpeername", getpeername, anon);
    show("send connected dgram", send(anon, "conn", 4, 0));
    show_recv("dgram server recv", dserver, 32, 0);
    struct sockaddr unspec = { AF_UNSPEC, { 0 } };
    show("dgram disconnect", connect(anon, &unspec, sizeof unspec));
    show("send disconnected", send(anon, "x", 1, 0));
    struct sockaddr_un nowhere;
    socklen_t nlen = path_address(&nowhere, "unix-probe-missing.sock");
    show("sendto nowhere", sendto(anon, "x", 1, 0, (struct sockaddr *)&nowhere, nlen));
    struct sockaddr_un bad = { 7, "x" };
    show("bind bad family", bind(anon, (struct sockaddr *)&bad, sizeof bad));
    show("bind bad length", bind(anon, (struct sockaddr *)&a, 200));
    close(anon);
    close(autob);
    close(dserver);
    show("unlink dgram", unlink(DGRAM_PATH));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pairs();
    streams();
    full_socket();
    woken();
    messages();
    rights();
    credentials();
    addresses();
    return 0;
}
