/* seccomp-export.c — for spawn_bwrap.sh: writes to stdout, as classic BPF for `bwrap --seccomp
 * FD`, a filter of the shape issue 11 asks of the sandbox, so that bwrap pays for one too. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>

int main(void)
{
	/* Issue 11's list, refused with EPERM; what this libseccomp does not know is skipped. */
	static const char *const deny[] = {
		"unshare", "setns", "mount", "umount2", "pivot_root", "move_mount", "open_tree",
		"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "bpf", "ptrace",
		"process_vm_readv", "process_vm_writev", "perf_event_open", "add_key", "request_key",
		"keyctl", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
		"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"swapon", "swapoff", "reboot", "personality",
	};
	static const unsigned long newns[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC,
					       CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
					       CLONE_NEWCGROUP };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return 1;
	r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
	if (r < 0 && r != -EEXIST)
		goto out;
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++) {
		int nr = seccomp_syscall_resolve_name(deny[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < sizeof(newns) / sizeof(newns[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, newns[i], newns[i]));
		if (r < 0)
			goto out;
	}
	/* clone3's flags sit behind a pointer: ENOSYS sends libc back to clone, as systemd does. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		goto out;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_EQ, TIOCSTI));
	if (r < 0)
		goto out;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_EQ, TIOCLINUX));
	if (r < 0)
		goto out;
	r = seccomp_export_bpf(ctx, 1);
out:
	if (r < 0)
		fprintf(stderr, "seccomp-export: %d\n", r);
	seccomp_release(ctx);
	return r < 0 ? 1 : 0;
}
