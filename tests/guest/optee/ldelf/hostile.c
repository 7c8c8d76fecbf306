/*
 * A hostile ldelf for the tests: it calls every ldelf number with awkward arguments
 * (null, unmapped, kernel-half and misaligned addresses, huge sizes, its own memory),
 * logs how many answers were TEE_Results, and returns TEE_ERROR_GENERIC so the TA is
 * never started.
 */
#include <stdint.h>

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

/* what the calls may fill: larger than any size they accept from the list below */
static uint64_t scratch[8192];

void __ldelf_entry(void *arg)
{
	static char message[] = "hostile ldelf: answers 000";
	const long values[] = { 0, 1, 4096, 0x1001, (long)scratch, (long)arg, 0x7ffffffff000, -4096L,
				(long)0xffff800000000000UL, 1L << 40, -1L };
	const int count = sizeof(values) / sizeof(values[0]);
	unsigned answers = 0;

	for (long nr = 1; nr <= 12; nr++) {
		if (nr == 2)
			continue; /* panic */
		for (int i = 0; i < count; i++) {
			long a = values[i], b = values[(i + 3) % count], c = values[(i + 5) % count];
			long r = sc(nr, a, b, c, values[(i + 7) % count], b, a, c);
			if ((uint32_t)r == 0 || (uint32_t)r >= 0xF0000000u)
				answers++;
			scratch[0] = 0;
		}
	}
	message[23] = (char)('0' + answers / 100 % 10);
	message[24] = (char)('0' + answers / 10 % 10);
	message[25] = (char)('0' + answers % 10);
	sc(1, (long)message, sizeof(message) - 1, 0, 0, 0, 0, 0);
	sc(0, 0xFFFF0000, 0, 0, 0, 0, 0, 0);
	for (;;) {}
}
