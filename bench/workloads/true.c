/* true: does nothing and exits 0 (prints nothing). The child of the forkexec workload. */
int main(void)
{
    return 0;
}
