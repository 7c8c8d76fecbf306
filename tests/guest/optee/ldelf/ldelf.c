/*
 * A small ldelf for x86-64 TAs, written for the tests: it loads the TA named in
 * struct ldelf_arg through OP-TEE's ldelf syscalls (open_bin, cp_from_bin, map_bin,
 * map_zi, set_prot, close_bin), maps the stack the TA's .ta_head asks for, and
 * returns the TA's entry point and stack. It handles ET_EXEC TAs (no relocations).
 * Syscalls: the number in rax, arguments in rdi, rsi, rdx, r10, r8, r9, r12.
 */
#include <stddef.h>
#include <stdint.h>

struct ldelf_arg {
	uint8_t uuid[16];
	uint32_t is_32bit, flags;
	uint64_t entry_func, load_addr, stack_ptr, dump_entry, ftrace_entry, dl_entry, fbuf;
};

struct ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; };
struct shdr { uint32_t name, type; uint64_t flags, addr, offset, size; uint32_t link, info; uint64_t addralign, entsize; };
struct ta_head { uint8_t uuid[16]; uint32_t stack_size, flags; uint64_t depr_entry; };

#define RETURN 0
#define LOG 1
#define PANIC 2
#define MAP_ZI 3
#define OPEN_BIN 5
#define CLOSE_BIN 6
#define MAP_BIN 7
#define CP_FROM_BIN 8
#define SET_PROT 9
#define FLAG_WRITEABLE 2
#define FLAG_EXECUTABLE 4
#define PAGE 4096UL
#define MAX_PHDRS 16
#define MAX_SHDRS 64

static long sc(long nr, long a1, long a2, long a3, long a4, long a5, long a6, long a7)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	register long r12 __asm__("r12") = a7;
	long ret;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9), "r"(r12)
			 : "rcx", "r11", "memory");
	return ret;
}

static size_t length(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void fail(const char *why, long code)
{
	sc(LOG, (long)why, (long)length(why), 0, 0, 0, 0, 0);
	sc(PANIC, code, 0, 0, 0, 0, 0, 0);
	for (;;) {}
}

static void copy(void *dst, uint64_t offset, uint64_t size, uint32_t handle)
{
	if (sc(CP_FROM_BIN, (long)dst, (long)offset, (long)size, handle, 0, 0, 0))
		fail("ldelf: cannot read the TA", 1);
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static struct phdr phdrs[MAX_PHDRS];
static struct shdr shdrs[MAX_SHDRS];
static char names[4096];

void __ldelf_entry(struct ldelf_arg *arg)
{
	struct ehdr eh;
	struct ta_head head;
	uint32_t handle;
	uint64_t first = 0, stack = 0;
	int found = 0;

	if (sc(OPEN_BIN, (long)arg->uuid, 16, (long)&handle, 0, 0, 0, 0))
		fail("ldelf: no such TA", 2);
	copy(&eh, 0, sizeof(eh), handle);
	if (eh.ident[0] != 0x7f || eh.ident[1] != 'E' || eh.ident[4] != 2 || eh.machine != 62 || eh.type != 2 ||
	    eh.phnum > MAX_PHDRS || eh.shnum > MAX_SHDRS || eh.shstrndx >= eh.shnum)
		fail("ldelf: not a 64-bit ET_EXEC x86-64 TA", 3);
	copy(phdrs, eh.phoff, eh.phnum * sizeof(struct phdr), handle);
	for (int i = 0; i < eh.phnum; i++) {
		struct phdr *p = &phdrs[i];
		uint64_t start = p->vaddr & ~(PAGE - 1), file_end = p->vaddr + p->filesz;
		uint64_t mapped_end = (file_end + PAGE - 1) & ~(PAGE - 1);
		uint64_t mem_end = (p->vaddr + p->memsz + PAGE - 1) & ~(PAGE - 1);
		long flags = (p->flags & 2 ? FLAG_WRITEABLE : 0) | (p->flags & 1 ? FLAG_EXECUTABLE : 0);
		uint64_t va = start;

		if (p->type != 1)
			continue;
		if (!first)
			first = start;
		if (p->filesz) {
			if (sc(MAP_BIN, (long)&va, (long)(mapped_end - start), handle, (long)(p->offset & ~(PAGE - 1)),
			       0, 0, flags) || va != start)
				fail("ldelf: map_bin failed", 4);
			if (p->memsz > p->filesz && mapped_end > file_end) {
				/* the bss begins inside the last file page: clear it (writable first) */
				sc(SET_PROT, (long)start, (long)(mapped_end - start), flags | FLAG_WRITEABLE, 0, 0, 0, 0);
				for (volatile char *c = (char *)file_end; (uint64_t)c < mapped_end; c++)
					*c = 0;
				sc(SET_PROT, (long)start, (long)(mapped_end - start), flags, 0, 0, 0, 0);
			}
		} else {
			mapped_end = start;
		}
		if (mem_end > mapped_end) {
			va = mapped_end;
			if (sc(MAP_ZI, (long)&va, (long)(mem_end - mapped_end), 0, 0, 0, 0, 0) || va != mapped_end)
				fail("ldelf: map_zi failed", 5);
			if (!(flags & FLAG_WRITEABLE))
				sc(SET_PROT, (long)va, (long)(mem_end - mapped_end), flags, 0, 0, 0, 0);
		}
	}
	copy(shdrs, eh.shoff, eh.shnum * sizeof(struct shdr), handle);
	copy(names, shdrs[eh.shstrndx].offset, shdrs[eh.shstrndx].size < sizeof(names) ?
	     shdrs[eh.shstrndx].size : sizeof(names) - 1, handle);
	for (int i = 0; i < eh.shnum && !found; i++) {
		if (shdrs[i].name < sizeof(names) && same(names + shdrs[i].name, ".ta_head")) {
			copy(&head, shdrs[i].offset, sizeof(head), handle);
			found = 1;
		}
	}
	if (!found)
		fail("ldelf: the TA has no .ta_head", 6);
	sc(CLOSE_BIN, handle, 0, 0, 0, 0, 0, 0);
	if (sc(MAP_ZI, (long)&stack, (long)head.stack_size, (long)PAGE, 0, 0, 0, 0))
		fail("ldelf: no room for the stack", 7);
	arg->entry_func = eh.entry;
	arg->load_addr = first;
	arg->stack_ptr = (stack + head.stack_size) & ~15UL;
	arg->flags = head.flags;
	arg->is_32bit = 0;
	sc(LOG, (long)"ldelf: TA loaded", 16, 0, 0, 0, 0, 0);
	sc(RETURN, 0, 0, 0, 0, 0, 0, 0);
	for (;;) {}
}
