/* hello: the smallest useful program, one write(2) and exit. Measures process start-up. */
#include <unistd.h>

int main(void)
{
    static const char line[] = "hello\n";
    write(1, line, sizeof line - 1);
    _exit(0);
}
