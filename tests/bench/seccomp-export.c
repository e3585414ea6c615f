/* seccomp-export.c — for spawn_bwrap.sh: writes cellmux's own session filter
 * (sandbox_seccomp_build()) to stdout as classic BPF, the format of `bwrap --seccomp FD`, so
 * that bwrap runs exactly the program a session runs. */
#include <stdio.h>
#include <unistd.h>

#include "sandbox/seccomp.h"

int main(void)
{
	struct sock_fprog p;
	size_t len;
	int r = sandbox_seccomp_build(&p);

	if (r < 0) {
		fprintf(stderr, "seccomp-export: building the filter: %d\n", r);
		return 1;
	}
	len = p.len * sizeof(p.filter[0]);
	r = fwrite(p.filter, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
	sandbox_seccomp_free(&p);
	return r;
}
