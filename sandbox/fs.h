/* fs.h — a session's private filesystem: the daemon writes a plan (which host trees are bound
 * read-only, what is a fresh tmpfs, which files are masked), the spawn child carries it out in
 * its own mount namespace and pivots into it. systemd's ProtectSystem=strict, ProtectHome=,
 * PrivateTmp=, PrivateDevices= and bubblewrap's --ro-bind/--tmpfs/--dev/--proc are the model. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum fs_op_type {
	FS_BIND_RO,  /* src (file or directory) at dst, read-only, nosuid, nodev */
	FS_BIND_RW,  /* the same, writable */
	FS_BIND_DEV, /* a device node at dst, writable, noexec, nosuid */
	FS_TMPFS,    /* an empty tmpfs at dst, with mode */
	FS_DIR,      /* a directory in the new root */
	FS_SYMLINK,  /* dst -> src */
	FS_PROC,     /* procfs of the session's PID namespace */
	FS_SYSFS,    /* sysfs of its network namespace, read-only */
	FS_MASK,     /* if dst exists in the new root: an empty read-only dir or /dev/null over it */
};

struct fs_op {
	enum fs_op_type type;
	char *src;
	char *dst; /* absolute, inside the new root */
	unsigned mode;
	char data[32]; /* tmpfs options, made by the planner: the child formats nothing */
};

struct fs_plan {
	struct fs_op *ops;
	size_t n;
};

/* Ops a plan can hold: the child keeps one descriptor per op on its stack. */
#define FS_PLAN_MAX 64

int fs_plan_new(struct fs_plan **ret);
void fs_plan_free(struct fs_plan *p);
/* -E2BIG past FS_PLAN_MAX, -EINVAL for a relative dst or one with "..". */
int fs_plan_add(struct fs_plan *p, enum fs_op_type type, const char *src, const char *dst,
		unsigned mode);
/* What every session gets: /usr, /etc (and /opt when present) read-only with the host's
 * top-level symlinks (/bin -> usr/bin ...), a minimal /dev (null, zero, full, random, urandom,
 * tty, fd links, its own /dev/shm), /proc, /sys, empty /tmp, /var/tmp and /run. Nothing else
 * of the host: no /home, /root, /var, /srv, /mnt, /media, no host /run or /tmp. */
int fs_plan_system(struct fs_plan *p);
/* True when path would be visible through the system binds (under /usr, /etc or /opt). */
bool fs_plan_covers(const char *path);

/* In the spawn child (already in its own mount namespace, after joining the network
 * namespace, as PID 1 of its PID namespace): async-signal-safe calls only. On failure returns
 * -errno and names the operation that failed in *ret_what. */
int fs_apply(const struct fs_plan *p, const char **ret_what);
