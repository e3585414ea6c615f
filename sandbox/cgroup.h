/* cgroup.h — cgroup v2 directories for session workers: one per session, under a root that
 * cellmuxd owns. Works on unified and hybrid hierarchies (the v2 mount is found, not assumed). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The cgroup2 mount point, from /proc/self/mountinfo; -ENOMEDIUM when there is none. */
int cgroup_v2_mount(char *buf, size_t len);
/* The calling process's cgroup v2 path ("/..."), from /proc/self/cgroup. */
int cgroup_self(char *buf, size_t len);
/* Absolute directory of the session root: <mount><path>, or <mount><own cgroup>/cellmux when
 * path is empty. Created when missing. */
int cgroup_root_prepare(const char *path, char *buf, size_t len);
/* <root>/<name>, created (an existing one is reused: it may be left from a killed daemon). */
int cgroup_create(const char *root, const char *name, char *buf, size_t len);
/* SIGKILL to every process in dir (see cgroup.c for why not cgroup.kill). */
int cgroup_kill(const char *dir);
bool cgroup_populated(const char *dir);
/* rmdir; -EBUSY while processes remain. */
int cgroup_remove(const char *dir);
/* Kills and removes every child cgroup of root: workers orphaned by a killed daemon. */
int cgroup_reap_children(const char *root);
