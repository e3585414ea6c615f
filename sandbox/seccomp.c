/* seccomp.c — the session worker's system call filter (see seccomp.h): built once with
 * libseccomp in the daemon, exported as classic BPF, loaded in the spawn child with one prctl. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Denied outright with EPERM. Names unknown to this libseccomp are skipped; names missing on one
 * of the filter's ABIs (umount, nfsservctl exist on x86 only) are left out there by libseccomp. */
static const char *const seccomp_denied[] = {
	/* entering other namespaces */
	"setns",
	/* the mount family: a worker's view of the filesystem is set up for it */
	"mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
	"fsmount", "fspick", "mount_setattr",
	/* reaching into other processes and the kernel's tracing */
	"bpf", "ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open", "pidfd_getfd",
	/* keyrings are shared by uid and hold other sessions' secrets; a large attack surface */
	"add_key", "request_key", "keyctl",
	/* io_uring bypasses this filter for what it does; userfaultfd widens kernel races */
	"io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
	/* kernel and system administration */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "swapon",
	"swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "nfsservctl", "uselib",
};

/* Namespace creation. CLONE_NEWTIME shares its bit with clone()'s exit signal, so it is only
 * checked for unshare (clone3 carries it, and clone3 is refused as a whole). */
static const uint64_t seccomp_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
	CLONE_NEWNET, CLONE_NEWTIME,
};

static const unsigned long seccomp_ioctls[] = {
	TIOCSTI,   /* pushes input into a terminal: commands typed into someone's shell */
	TIOCLINUX, /* the virtual console's selection buffer, the same trick on a VT */
};

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int seccomp_add_arches(scmp_filter_ctx ctx)
{
	/* A filter that knows only the native ABI lets int $0x80 (x86) or an AArch32 binary in
	 * untouched; added ABIs get the same rules, any other ABI kills (libseccomp's default). */
	static const uint32_t arches[] = {
#if defined(__x86_64__)
		SCMP_ARCH_X86, SCMP_ARCH_X32,
#elif defined(__aarch64__)
		SCMP_ARCH_ARM,
#endif
		0,
	};

	for (size_t i = 0; arches[i]; i++) {
		int r = seccomp_arch_add(ctx, arches[i]);

		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

static int seccomp_deny_ns_flags(scmp_filter_ctx ctx, const char *name, size_t nflags)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	/* flags is the first argument of clone and unshare on every ABI added above (s390 would
	 * differ); one rule per flag because rules are ORed and comparisons within one are ANDed. */
	for (size_t i = 0; i < nflags; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
					 SCMP_A0(SCMP_CMP_MASKED_EQ, seccomp_ns_flags[i],
						 seccomp_ns_flags[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

/* personality(2) like systemd's LockPersonality=, but the query (0xffffffff) stays allowed as
 * well as PER_LINUX (0), because programs ask before they set. libseccomp takes one comparison
 * per argument per rule, so "neither all zeros nor all ones" is said as a union: a 32-bit word
 * that is not constant has, read cyclically, some bit set whose next bit is clear. The kernel
 * reads the argument as an unsigned int: the masks ignore the upper half. */
static int seccomp_lock_personality(scmp_filter_ctx ctx)
{
	for (unsigned i = 0; i < 32; i++) {
		uint64_t bit = UINT64_C(1) << i, next = UINT64_C(1) << ((i + 1) % 32);
		int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
					 SCMP_A0(SCMP_CMP_MASKED_EQ, bit | next, bit));
		if (r < 0)
			return r;
	}
	return 0;
}

static int seccomp_add_rules(scmp_filter_ctx ctx)
{
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(seccomp_denied); i++) {
		int nr = seccomp_syscall_resolve_name(seccomp_denied[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return r;
	}
	r = seccomp_deny_ns_flags(ctx, "unshare", ARRAY_SIZE(seccomp_ns_flags));
	if (r < 0)
		return r;
	/* Without CLONE_NEWTIME, the last entry (see seccomp_ns_flags). */
	r = seccomp_deny_ns_flags(ctx, "clone", ARRAY_SIZE(seccomp_ns_flags) - 1);
	if (r < 0)
		return r;
	/* clone3's flags sit in a struct behind a pointer that seccomp cannot read. ENOSYS, not
	 * EPERM (systemd does the same): glibc and others then fall back to clone, whose flags the
	 * rules above see. The one deviation from "EPERM for everything denied". */
	int nr = seccomp_syscall_resolve_name("clone3");
	if (nr != __NR_SCMP_ERROR) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(seccomp_ioctls); i++) {
		/* The request is an unsigned long on 64-bit ABIs but the kernel's ioctl handlers
		 * compare an unsigned int: match the low 32 bits, or 1<<32 | TIOCSTI slips by. */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, UINT32_MAX, seccomp_ioctls[i]));
		if (r < 0)
			return r;
	}
	return seccomp_lock_personality(ctx);
}

/* libseccomp 2.5 (Debian 12) exports only to a file descriptor. */
static int seccomp_export(scmp_filter_ctx ctx, struct sock_fprog *ret)
{
	_cleanup_close_ int fd = memfd_create("cellmux-seccomp", MFD_CLOEXEC);
	_cleanup_free_ struct sock_filter *prog = NULL;
	struct stat st;
	size_t done = 0;
	int r;

	if (fd < 0)
		return negative_errno();
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return -E2BIG;
	prog = malloc(st.st_size);
	if (!prog)
		return -ENOMEM;
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, (char *)prog + done, st.st_size - done, done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EIO;
		done += n;
	}
	ret->len = st.st_size / sizeof(struct sock_filter);
	ret->filter = TAKE_PTR(prog);
	return 0;
}

int sandbox_seccomp_build(struct sock_fprog *ret)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	/* The child sets no_new_privs itself, in its fixed order of steps; the export does not
	 * carry this attribute anyway. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		return r;
	/* A binary tree of syscall numbers instead of a linear scan on every call. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		return r;
	r = seccomp_add_arches(ctx);
	if (r < 0)
		return r;
	r = seccomp_add_rules(ctx);
	if (r < 0)
		return r;
	return seccomp_export(ctx, ret);
}

void sandbox_seccomp_free(struct sock_fprog *p)
{
	if (!p)
		return;
	free(p->filter);
	p->filter = NULL;
	p->len = 0;
}

int sandbox_seccomp_apply(const struct sock_fprog *p)
{
	if (!p || !p->filter || p->len == 0)
		return -EINVAL;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p, 0, 0) < 0)
		return negative_errno();
	return 0;
}
