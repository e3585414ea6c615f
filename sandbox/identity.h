/* identity.h — who a session runs as: a dynamic uid/gid of its own, stable for its name
 * (systemd's DynamicUser= is the model), or a named account; and the session's private state
 * and runtime directories, owned by that identity. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IDENTITY_GROUPS_MAX 64

struct identity {
	uid_t uid;
	gid_t gid;
	gid_t groups[IDENTITY_GROUPS_MAX]; /* supplementary groups of a named account */
	size_t n_groups;
	bool dynamic;
};

/* A named account, through NSS (call in the daemon, never in a spawn child): -ENOENT when
 * unknown, -EPERM for uid 0 or gid 0, -E2BIG for more than IDENTITY_GROUPS_MAX groups. */
int identity_of_user(const char *user, struct identity *ret);

/* The uids owning a directory under a state root, sorted: read from the directory once, then
 * kept by its one writer (the daemon) as identity_dir() makes or re-owns directories there, so
 * that placing a new session reads no directory (at 1,024 sessions a scan was 1,024 fstatat
 * calls a start). A uid stays after its directory is re-owned: skipped for nothing, never
 * given twice. */
struct identity_owners {
	uid_t *v;
	size_t n, cap;
};

int identity_owners_load(struct identity_owners *o, const char *state_root);
int identity_owners_add(struct identity_owners *o, uid_t uid);
bool identity_owners_has(const struct identity_owners *o, uid_t uid);
void identity_owners_free(struct identity_owners *o);

/* Whether uid belongs to a live session other than the one being placed. */
typedef bool (*identity_taken_fn)(uid_t uid, void *arg);

/* The dynamic uid of session `name`, uid == gid, no supplementary groups. Stable: the owner of
 * its state directory (state_root/name) is the record, so the same name gets the same uid
 * after any restart. A new name hashes into [min, max] and probes past uids that are taken by
 * a live session, own another session's state directory, or exist in the user or group
 * database. owners: the state root's owners (identity_owners_load()), or NULL to read the
 * directory for each candidate. -ENOSPC when the range is full. */
int identity_dynamic(const char *state_root, const char *name, uint32_t min, uint32_t max,
		     const struct identity_owners *owners, identity_taken_fn taken, void *arg,
		     struct identity *ret);

/* root/name as a 0700 directory owned by id, created (with root) when missing; an existing
 * one is re-owned when it belongs to someone else. Writes the path into buf. */
int identity_dir(const char *root, const char *name, const struct identity *id, char *buf,
		 size_t len);
/* rm -rf of a directory a worker wrote into: never follows symlinks, never leaves its mount. */
int identity_dir_remove(const char *path);
