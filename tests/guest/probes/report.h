/* What the probes print for a call's result, in words that are the same natively and in
 * the sandbox: an errno by name, a result as its value or -1 and the name. Included by
 * the probes that share these; each stays one program built on its own. */
#ifndef PROBE_REPORT_H
#define PROBE_REPORT_H

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

static inline const char *en(int e) {
    switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ELOOP: return "ELOOP";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case ENOTTY: return "ENOTTY";
    case EPIPE: return "EPIPE";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOTCONN: return "ENOTCONN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EPROTOTYPE: return "EPROTOTYPE";
    case EMSGSIZE: return "EMSGSIZE";
    case EISCONN: return "EISCONN";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINPROGRESS: return "EINPROGRESS";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    default: return "other";
    }
}

static inline void show(const char *name, long r) {
    if (r < 0) printf("%s: -1 %s\n", name, en(errno));
    else printf("%s: %ld\n", name, r);
}

/* a receive printed as its length and the bytes (at most `len` of them, even when
 * MSG_TRUNC reports a longer datagram) */
static inline void show_recv(const char *name, int fd, size_t len, int flags) {
    char buf[256];
    ssize_t n = recv(fd, buf, len < sizeof buf ? len : sizeof buf, flags);
    if (n < 0) { printf("%s: -1 %s\n", name, en(errno)); return; }
    size_t shown = (size_t)n < len ? (size_t)n : len;
    printf("%s: %zd '%.*s'\n", name, n, (int)shown, buf);
}

/* an integer socket option, or -errno */
static inline int int_option(int fd, int level, int name) {
    int value = -1;
    socklen_t len = sizeof value;
    if (getsockopt(fd, level, name, &value, &len) < 0) return -errno;
    return value;
}

#endif
