/* argv_env_auxv: checks the initial process stack.  Prints argc, the
 * basename of argv[0] and every further argv[i]; every environment variable
 * whose name starts with PROBE_ (in environment order); and facts from the
 * auxiliary vector: AT_PAGESZ, the uid/gid entries against the id calls,
 * AT_SECURE, AT_PHENT, AT_PHDR (points at headers holding a PT_LOAD),
 * AT_RANDOM (16 readable bytes), AT_EXECFN basename, AT_PLATFORM,
 * AT_CLKTCK and AT_HWCAP. */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

int main(int argc, char **argv)
{
    int i;

    printf("argc: %d\n", argc);
    printf("argv[0] basename: %s\n", argc > 0 && argv[0] ? base(argv[0]) : "(none)");
    for (i = 1; i < argc; i++)
        printf("argv[%d]: %s\n", i, argv[i]);
    printf("argv[argc] is NULL: %s\n", yesno(argv[argc] == NULL));

    for (i = 0; environ[i]; i++)
        if (strncmp(environ[i], "PROBE_", 6) == 0)
            printf("env: %s\n", environ[i]);

    printf("AT_PAGESZ: %lu\n", getauxval(AT_PAGESZ));
    printf("AT_PAGESZ equals sysconf: %s\n",
           yesno((long)getauxval(AT_PAGESZ) == sysconf(_SC_PAGESIZE)));
    printf("AT_UID matches getuid: %s\n", yesno(getauxval(AT_UID) == (unsigned long)getuid()));
    printf("AT_EUID matches geteuid: %s\n", yesno(getauxval(AT_EUID) == (unsigned long)geteuid()));
    printf("AT_GID matches getgid: %s\n", yesno(getauxval(AT_GID) == (unsigned long)getgid()));
    printf("AT_EGID matches getegid: %s\n", yesno(getauxval(AT_EGID) == (unsigned long)getegid()));
    printf("AT_SECURE: %lu\n", getauxval(AT_SECURE));
    printf("AT_PHENT: %lu\n", getauxval(AT_PHENT));

    {
        unsigned long phdr = getauxval(AT_PHDR);
        unsigned long phnum = getauxval(AT_PHNUM);
        unsigned long phent = getauxval(AT_PHENT);
        int has_load = 0;
        unsigned long k;

        if (phdr != 0 && phent == sizeof(Elf64_Phdr)) {
            const Elf64_Phdr *ph = (const Elf64_Phdr *)phdr;
            for (k = 0; k < phnum; k++)
                if (ph[k].p_type == PT_LOAD)
                    has_load = 1;
        }
        printf("AT_PHDR non-zero: %s\n", yesno(phdr != 0));
        printf("AT_PHNUM non-zero: %s\n", yesno(phnum != 0));
        printf("AT_PHDR has PT_LOAD: %s\n", yesno(has_load));
    }

    {
        const volatile unsigned char *r =
            (const volatile unsigned char *)getauxval(AT_RANDOM);
        unsigned sum = 0;
        if (r) {
            for (i = 0; i < 16; i++)
                sum += r[i];
        }
        (void)sum;
        printf("AT_RANDOM 16 bytes readable: %s\n", yesno(r != NULL));
    }

    {
        const char *fn = (const char *)getauxval(AT_EXECFN);
        printf("AT_EXECFN basename: %s\n", fn ? base(fn) : "(none)");
        const char *pl = (const char *)getauxval(AT_PLATFORM);
        printf("AT_PLATFORM: %s\n", pl ? pl : "(none)");
    }

    printf("AT_CLKTCK: %lu\n", getauxval(AT_CLKTCK));
    printf("AT_HWCAP non-zero: %s\n", yesno(getauxval(AT_HWCAP) != 0));
    return 0;
}
