/* seccomp.h — the system call filter of every session worker: no namespaces, mounts, bpf,
 * ptrace, keyrings, io_uring, kernel admin or terminal injection, for native and compat ABIs. */
#pragma once

#include <linux/filter.h>

/* The session filter as a classic BPF program, built with libseccomp for the native ABI and its
 * compat ABIs (x86-64: x86 and x32; aarch64: arm; any other ABI is killed). Denied calls fail
 * with EPERM, except clone3: ENOSYS, so libc falls back to clone, whose flags the filter can
 * read. ret->filter is malloc'd. Call in the daemon, never between clone and exec: libseccomp
 * allocates. */
int sandbox_seccomp_build(struct sock_fprog *ret);
/* Frees p->filter and zeroes p; NULL and an already freed p are fine. */
void sandbox_seccomp_free(struct sock_fprog *p);
/* In the spawn child, after PR_SET_NO_NEW_PRIVS: prctl(PR_SET_SECCOMP, ...) only, so it is
 * async-signal-safe. 0 or -errno. */
int sandbox_seccomp_apply(const struct sock_fprog *p);
