/* exec_data: code may run only from pages mapped executable, and code pages cannot be
 * written. Jumps to a `ret` placed in malloc'd memory, on the stack, in a static
 * buffer, in an anonymous read-write mapping, in a page made read-only and in a
 * PROT_NONE page must fault (NX); writes to the program's own text, to a string
 * literal, to a read-only and to a PROT_NONE mapping must fault. The same bytes in a
 * page made PROT_READ|PROT_EXEC run and return 42 (so a fault above is the page's
 * protection, not the code), and mprotect back to read-write stops them again. */
#include "fault.h"

#include <sys/mman.h>

/* mov eax, 42; ret (rax is 42: writing eax clears the upper half) */
static const unsigned char CODE[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};

static unsigned char static_buffer[64];

static uintptr_t with_code(void *where) {
    memcpy(where, CODE, sizeof CODE);
    return (uintptr_t)where;
}

static long run_on_stack(uintptr_t unused) {
    (void)unused;
    unsigned char buffer[64];
    return jump_to(with_code(buffer));
}

int main(void) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    catch_faults();

    unsigned char *heap = malloc(256);
    attempt("jump to malloc'd code", jump_to, with_code(heap));

    /* the stack case: si_addr is inside the probe's own frame, so only its page is shown */
    fflush(stdout);
    unsigned char marker;
    if (sigsetjmp(fault_jump, 1) == 0) {
        printf("jump to stack code: no fault (%ld)\n", run_on_stack(0));
    } else {
        uintptr_t here = (uintptr_t)&marker;
        int near = fault_addr < here && here - fault_addr < PAGE;
        printf("jump to stack code: %s %s at %s\n", signal_name(fault_signal),
               segv_code_name(fault_signal, fault_code), near ? "the probe's stack" : "elsewhere");
    }

    attempt("jump to static data code", jump_to, with_code(static_buffer));

    unsigned char *rw = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rw == MAP_FAILED) {
        printf("mmap: failed\n");
        return 1;
    }
    attempt("jump to read-write mapping", jump_to, with_code(rw));

    uintptr_t ro = with_code(rw + PAGE);
    printf("mprotect read-only: %d\n", mprotect(rw + PAGE, PAGE, PROT_READ));
    attempt("jump to read-only mapping", jump_to, ro);
    attempt("write to read-only mapping", write_byte, ro);

    uintptr_t none = with_code(rw + 2 * PAGE);
    printf("mprotect none: %d\n", mprotect(rw + 2 * PAGE, PAGE, PROT_NONE));
    attempt("jump to PROT_NONE mapping", jump_to, none);
    attempt("read PROT_NONE mapping", read_byte, none);
    attempt("write PROT_NONE mapping", write_byte, none);

    uintptr_t rx = with_code(rw + 3 * PAGE);
    printf("mprotect read+exec: %d\n", mprotect(rw + 3 * PAGE, PAGE, PROT_READ | PROT_EXEC));
    attempt("jump to read+exec mapping", jump_to, rx);
    attempt("write to read+exec mapping", write_byte, rx);
    printf("mprotect back to read-write: %d\n", mprotect(rw + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE));
    attempt("jump to it again", jump_to, rx);

    attempt("write to the program's text", write_byte, (uintptr_t)main);
    attempt("write to the fault handler's text", write_byte, (uintptr_t)fault_handler);
    static const char *const literal = "a string literal";
    attempt("write to a string literal", write_byte, (uintptr_t)literal);
    attempt("write to the code template (const)", write_byte, (uintptr_t)CODE);

    printf("munmap: %d\n", munmap(rw, 4 * PAGE));
    attempt("jump to the unmapped page", jump_to, rx);
    free(heap);
    printf("done\n");
    return 0;
}
