/* Catching a hostile act's fault and printing it in words that are the same natively and
 * in the sandbox: the signal, its si_code and where si_addr points relative to the
 * address the act aimed at (never the address itself, which differs between runs).
 * Included by the probes that try to reach memory they must not reach. */
#ifndef PROBE_FAULT_H
#define PROBE_FAULT_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096UL

static sigjmp_buf fault_jump;
static volatile sig_atomic_t fault_signal, fault_code;
static volatile uintptr_t fault_addr;
static char fault_stack[64 * 1024];

static inline void fault_handler(int sig, siginfo_t *info, void *context) {
    (void)context;
    fault_signal = sig;
    fault_code = info->si_code;
    fault_addr = (uintptr_t)info->si_addr;
    siglongjmp(fault_jump, 1);
}

/* handlers for the synchronous faults, on a stack of their own (an act may break the
 * stack pointer) */
static inline void catch_faults(void) {
    stack_t ss = {.ss_sp = fault_stack, .ss_size = sizeof fault_stack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGTRAP, &sa, NULL);
}

static inline const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGKILL: return "SIGKILL";
    case SIGSYS: return "SIGSYS";
    default: return "another signal";
    }
}

static inline const char *segv_code_name(int sig, int code) {
    if (code == SI_KERNEL) return "SI_KERNEL";
    if (sig == SIGSEGV && code == SEGV_MAPERR) return "SEGV_MAPERR";
    if (sig == SIGSEGV && code == SEGV_ACCERR) return "SEGV_ACCERR";
    if (sig == SIGBUS && code == BUS_ADRERR) return "BUS_ADRERR";
    if (sig == SIGILL && code == ILL_ILLOPN) return "ILL_ILLOPN";
    if (sig == SIGILL && code == ILL_ILLOPC) return "ILL_ILLOPC";
    return "another code";
}

/* the errnos the memory calls and a bad buffer give, by name */
static inline const char *errno_name(int e) {
    switch (e) {
    case 0: return "0";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    default: return "another errno";
    }
}

static inline const char *where(uintptr_t addr, uintptr_t target) {
    if (addr == target) return "the address";
    if (addr == 0) return "0";
    if (addr / PAGE == target / PAGE) return "the address's page";
    return "elsewhere";
}

/* Run act(target) with faults caught; prints `label: RESULT` where RESULT is `no fault`
 * (with what the act returned) or the signal, its code and where si_addr points. */
static inline void attempt(const char *label, long (*act)(uintptr_t), uintptr_t target) {
    fflush(stdout);
    if (sigsetjmp(fault_jump, 1) == 0) {
        long value = act(target);
        printf("%s: no fault (%ld)\n", label, value);
    } else {
        printf("%s: %s %s at %s\n", label, signal_name(fault_signal), segv_code_name(fault_signal, fault_code),
               where(fault_addr, target));
    }
}

static inline long read_byte(uintptr_t target) { return *(volatile unsigned char *)target; }

static inline long write_byte(uintptr_t target) {
    *(volatile unsigned char *)target = 0xc3;
    return 0;
}

static inline long jump_to(uintptr_t target) { return ((long (*)(void))target)(); }

#endif
