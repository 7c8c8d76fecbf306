/* hello: the smallest possible guest; prints "hello" and exits 0. */
#include <stdio.h>

int main(void)
{
    printf("hello\n");
    return 0;
}
