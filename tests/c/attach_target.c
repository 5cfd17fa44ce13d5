/* A target for tests/test_attach.py: a uprobe on libbpf_py_target_add() and a
 * USDT probe libbpf_py:tick, each hit once per loop turn (argv[1] turns). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

__attribute__((noinline, used)) int libbpf_py_target_add(int a, int b)
{
	__asm__ volatile("" ::: "memory");
	return a + b;
}

int main(int argc, char **argv)
{
	int turns = argc > 1 ? atoi(argv[1]) : 1;
	int sum = 0;

	for (int i = 0; i < turns; i++) {
		sum += libbpf_py_target_add(i, 1);
		DTRACE_PROBE1(libbpf_py, tick, i + 1);
	}
	printf("%d\n", sum);
	return 0;
}
