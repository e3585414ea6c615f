/* inspect.h — a session's confinement as the kernel reports it (/proc/PID/status and
 * /proc/PID/ns/pid of its worker), never as the config asked for it: what `session show` prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sandbox_seccomp {
	SANDBOX_SECCOMP_DISABLED = 0,
	SANDBOX_SECCOMP_STRICT = 1,
	SANDBOX_SECCOMP_FILTER = 2,
};

struct sandbox_view {
	pid_t pid;        /* host pid of the process read */
	bool is_worker;   /* false: the session's init, read while it has no worker child */
	pid_t ppid;       /* as the reader's PID namespace sees it */
	uid_t uid, euid;  /* real, effective */
	gid_t gid, egid;
	pid_t ns_pid;     /* the pid inside the innermost PID namespace (last NSpid field) */
	unsigned seccomp; /* enum sandbox_seccomp; a newer kernel may report more */
	unsigned seccomp_filters;
	bool have_seccomp_filters; /* Linux 5.9+ */
	bool no_new_privs;
	uint64_t cap_eff, cap_prm, cap_bnd, cap_amb;
	uint64_t pidns_inode;
	bool pidns_private; /* differs from the reader's own PID namespace */
};

/* Parses the text of a /proc/PID/status (len bytes, need not be terminated) into the identity,
 * seccomp, no_new_privs and capability fields of ret. -EBADMSG when a field is missing or
 * malformed. Leaves pid, is_worker and the namespace fields alone. */
int sandbox_parse_status(const char *text, size_t len, struct sandbox_view *ret);

/* The worker of the session whose init (PID 1 of its namespace, the daemon's child) is
 * init_pid: the init's first child, or the init itself while it has none. -ESRCH when the
 * init is gone. */
int sandbox_inspect(pid_t init_pid, struct sandbox_view *ret);

/* "disabled", "strict", "filter", or "unknown". */
const char *sandbox_seccomp_to_string(unsigned mode);
