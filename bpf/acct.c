/* acct.c — loads the accounting programs (build/gen/bpf/acct.skel.h), attaches them to session
 * cgroups and uplink interfaces, and reads and steers the pinned maps. Layout: bpf/README.md. */
#include "bpf/acct.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>

#include "bpf/acct.skel.h"
#include "bpf/acct_abi.h"
#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"

struct acct {
	char *pin_dir;
	struct acct_bpf *skel; /* every program, shared by all sessions and uplinks; the maps */
	int names_fd, counters_fd, quota_fd, cgroups_fd, cg_session_fd;
	__u32 cg_session_map_id; /* the kernel's id of cmx_cg_session, to know links made with it */
	/* Uplink threads may create names in parallel; an id is chosen and claimed under it. */
	pthread_mutex_t id_lock;
	/* The ids names hold (under id_lock), read from the names map once at open and kept since:
	 * this process is the only writer of its pin directory, and a walk of the map per new name
	 * made a cold start with N sessions O(N^2) system calls. Bit 0 is set: id 0 is never
	 * handed out. */
	unsigned char used[ACCT_MAX_KEYS / 8];

	struct ring_buffer *rb;
	acct_event_fn event_fn;
	void *event_userdata;
	int n_events;
	bool created; /* no maps were pinned at acct_open(): they are new */
};

static_assert(ACCT_MAX_KEYS <= ACCT_TC_CLASSID_ETH, "an id fits below the classid's flag");
static_assert((int)ACCT_SESSION == ACCT_MAP_KIND_SESSION, "kind numbers are the ABI's");
static_assert((int)ACCT_UPLINK == ACCT_MAP_KIND_UPLINK, "kind numbers are the ABI's");
static_assert((int)ACCT_QUOTA_NOTIFY == ACCT_MAP_ACTION_NOTIFY, "action numbers are the ABI's");
static_assert((int)ACCT_QUOTA_BLOCK == ACCT_MAP_ACTION_BLOCK, "action numbers are the ABI's");

/* ---- names ---- */

const char *acct_kind_to_string(enum acct_kind kind)
{
	return kind == ACCT_SESSION ? "session" : kind == ACCT_UPLINK ? "uplink" : NULL;
}

static const char *const action_names[] = {
	[ACCT_QUOTA_NONE] = "none",
	[ACCT_QUOTA_NOTIFY] = "notify",
	[ACCT_QUOTA_BLOCK] = "block",
};

const char *acct_quota_action_to_string(enum acct_quota_action action)
{
	return (size_t)action < ARRAY_SIZE(action_names) ? action_names[action] : NULL;
}

int acct_quota_action_from_string(const char *s, enum acct_quota_action *ret)
{
	/* "none" is not a configurable action: no quota is written as no quota= key. */
	if (!strcmp(s, "notify"))
		*ret = ACCT_QUOTA_NOTIFY;
	else if (!strcmp(s, "block"))
		*ret = ACCT_QUOTA_BLOCK;
	else
		return -EINVAL;
	return 0;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

/* Names are the config's session and uplink names ([A-Za-z0-9_.-], not "." or ".."): they
 * also name files under pin_dir/links. */
static int name_key(enum acct_kind kind, const char *name, struct acct_map_name *ret)
{
	size_t n = strlen(name);

	if (kind != ACCT_SESSION && kind != ACCT_UPLINK)
		return -EINVAL;
	if (n == 0 || strspn(name, NAME_CHARS) != n || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (n >= ACCT_NAME_LEN)
		return -ENAMETOOLONG;
	memset(ret, 0, sizeof(*ret));
	ret->kind = (__u32)kind;
	memcpy(ret->name, name, n);
	return 0;
}

static int id_lookup(struct acct *a, enum acct_kind kind, const char *name, struct acct_map_id *ret)
{
	struct acct_map_name key;
	int r = name_key(kind, name, &key);

	if (r < 0)
		return r;
	return bpf_map_lookup_elem(a->names_fd, &key, ret);
}

static_assert(ACCT_MAX_KEYS % 8 == 0, "bitmap of whole bytes");

static void id_mark(struct acct *a, __u32 id, bool used)
{
	if (id >= ACCT_MAX_KEYS)
		return;
	if (used)
		a->used[id / 8] |= (unsigned char)(1u << (id % 8));
	else
		a->used[id / 8] &= (unsigned char)~(1u << (id % 8));
}

/* Once, at open: the ids of the names already pinned (a restarted daemon's). */
static void id_used_load(struct acct *a)
{
	struct acct_map_name key, next;
	struct acct_map_id v;
	void *prev = NULL;

	memset(a->used, 0, sizeof(a->used));
	id_mark(a, 0, true);
	while (bpf_map_get_next_key(a->names_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(a->names_fd, &key, &v) == 0)
			id_mark(a, v.id, true);
	}
}

/* The lowest id no name holds: ids index the counter and quota arrays, so they are reused. */
static int id_free(struct acct *a, __u32 *ret)
{
	for (__u32 id = 1; id < ACCT_MAX_KEYS; id++)
		if (!(a->used[id / 8] & (1u << (id % 8)))) {
			*ret = id;
			return 0;
		}
	return -ENOSPC;
}

/* The id of a name, made on first use. Its counters and quota are zeroed before the name points
 * at them: no program can reach a free id, so nothing races with the zeroing. */
static int id_get(struct acct *a, enum acct_kind kind, const char *name, struct acct_map_id *ret,
		  bool *created)
{
	const struct acct_map_counters zero = {};
	const struct acct_map_quota no_quota = {};
	struct acct_map_name key;
	struct acct_map_id v = {};
	int r = name_key(kind, name, &key);

	if (r < 0)
		return r;
	if (created)
		*created = false;
	r = bpf_map_lookup_elem(a->names_fd, &key, ret);
	if (r != -ENOENT)
		return r;
	pthread_mutex_lock(&a->id_lock);
	r = bpf_map_lookup_elem(a->names_fd, &key, ret); /* another thread may have made it */
	if (r != -ENOENT)
		goto out;
	r = id_free(a, &v.id);
	if (r >= 0)
		r = bpf_map_update_elem(a->counters_fd, &v.id, &zero, BPF_ANY);
	if (r >= 0)
		r = bpf_map_update_elem(a->quota_fd, &v.id, &no_quota, BPF_ANY);
	if (r >= 0)
		r = bpf_map_update_elem(a->names_fd, &key, &v, BPF_NOEXIST);
	if (r >= 0) {
		id_mark(a, v.id, true);
		*ret = v;
		if (created)
			*created = true;
	}
out:
	pthread_mutex_unlock(&a->id_lock);
	return r;
}

static int id_set_flags(struct acct *a, enum acct_kind kind, const char *name, __u32 flags)
{
	struct acct_map_name key;
	struct acct_map_id v;
	int r = name_key(kind, name, &key);

	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(a->names_fd, &key, &v);
	if (r < 0)
		return r;
	v.flags = flags;
	return bpf_map_update_elem(a->names_fd, &key, &v, BPF_EXIST);
}

/* Reverse lookup, for events: rare, so a walk is fine. */
static int name_of_id(struct acct *a, __u32 id, struct acct_map_name *ret)
{
	struct acct_map_name key, next;
	struct acct_map_id v;
	void *prev = NULL;

	while (bpf_map_get_next_key(a->names_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(a->names_fd, &key, &v) == 0 && v.id == id) {
			*ret = key;
			return 0;
		}
	}
	return -ENOENT;
}

/* Deletes every cgroups-map entry that points at id, except keep_cgid. */
static int cgroups_unmap(struct acct *a, __u32 id, __u64 keep_cgid)
{
	__u64 keys[64], key, next;
	void *prev = NULL;
	size_t n = 0;
	__u32 v;
	int r = 0;

	/* Collect first: deleting while walking a hash map can restart or skip the walk. */
	while (bpf_map_get_next_key(a->cgroups_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key != keep_cgid && bpf_map_lookup_elem(a->cgroups_fd, &key, &v) == 0 &&
		    v == id && n < ARRAY_SIZE(keys))
			keys[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		int k = bpf_map_delete_elem(a->cgroups_fd, &keys[i]);
		if (k < 0 && k != -ENOENT)
			r = k;
	}
	return r;
}

static void counters_from_map(const struct acct_map_counters *c, struct acct_counters *ret)
{
	*ret = (struct acct_counters){
		.rx_bytes = c->rx.bytes,
		.rx_packets = c->rx.packets,
		.tx_bytes = c->tx.bytes,
		.tx_packets = c->tx.packets,
		.rx_dropped = c->rx.drop_packets,
		.tx_dropped = c->tx.drop_packets,
	};
}

static int counters_read(struct acct *a, __u32 id, struct acct_counters *ret)
{
	struct acct_map_counters c;
	int r = bpf_map_lookup_elem(a->counters_fd, &id, &c);

	if (r < 0)
		return r;
	if (ret)
		counters_from_map(&c, ret);
	return 0;
}

/* ---- probing and opening ---- */

/* libbpf speaks through our logger, at debug level like every library of cellmux. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (log_get_max_level() < LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("%s", line); /* libbpf prefixes its own "libbpf: " */
	return 0;
}

static bool cgroup2_mounted(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");
		if (sep && !strncmp(sep, " - cgroup2 ", 11))
			return true;
	}
	return false;
}

static bool on_bpffs(const char *path)
{
	char parent[PATH_MAX], *slash;
	struct statfs sf;

	if (statfs(path, &sf) == 0)
		return sf.f_type == BPF_FS_MAGIC;
	/* pin_dir itself is made by acct_open(): its parent must be on bpffs. */
	if (strlen(path) >= sizeof(parent))
		return false;
	strcpy(parent, path);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return false;
	*slash = '\0';
	return statfs(parent, &sf) == 0 && sf.f_type == BPF_FS_MAGIC;
}

static int __attribute__((format(printf, 4, 5)))
why(int r, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

int acct_probe(const char *pin_dir, char *whybuf, size_t whylen)
{
	int r;

	libbpf_set_print(libbpf_print);
	if (whybuf && whylen)
		whybuf[0] = '\0';
	/* No kernel BTF needed: the objects carry no CO-RE relocation (Makefile, BPF_CFLAGS). */
	if (!cgroup2_mounted())
		return why(-ENOTSUP, whybuf, whylen,
			   "no cgroup v2 hierarchy is mounted (session counters attach to cgroup "
			   "v2; mount -t cgroup2 none /sys/fs/cgroup/unified)");
	if (!on_bpffs(pin_dir))
		return why(-ENOTSUP, whybuf, whylen,
			   "%s is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)", pin_dir);
	r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SKB, NULL);
	if (r == -EPERM)
		return why(-EPERM, whybuf, whylen, "loading BPF programs needs root "
						   "(CAP_BPF, CAP_NET_ADMIN)");
	if (r <= 0)
		return why(-ENOTSUP, whybuf, whylen, "kernel lacks cgroup_skb BPF programs");
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) <= 0)
		return why(-ENOTSUP, whybuf, whylen, "kernel lacks tc (sched_cls) BPF programs");
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0)
		return why(-ENOTSUP, whybuf, whylen,
			   "kernel lacks the BPF ring buffer (Linux 5.8+)");
	return 0;
}

int acct_bpffs_mount(const char *pin_dir)
{
	char parent[PATH_MAX], *slash;

	if (strlen(pin_dir) >= sizeof(parent))
		return -ENAMETOOLONG;
	strcpy(parent, pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	if (on_bpffs(parent))
		return 0;
	/* What systemd does at boot; the mode keeps the pins root's. */
	if (mount("bpf", parent, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		return negative_errno();
	return 1;
}

static int mkdir_p(const char *dir, mode_t mode)
{
	return mkdir(dir, mode) < 0 && errno != EEXIST ? negative_errno() : 0;
}

/* 1 if pin_dir/name exists, 0 if not. */
static int pinned_exists(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", pin_dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) == 0)
		return 1;
	return errno == ENOENT ? 0 : negative_errno();
}

/* The kernel's id of the map behind fd. */
static int map_id(int fd, __u32 *ret)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int r = bpf_obj_get_info_by_fd(fd, &info, &len);

	if (r < 0)
		return r;
	*ret = info.id;
	return 0;
}

/* A skeleton whose pinned maps are (re)used from pin_dir: LIBBPF_PIN_BY_NAME does the rest. */
static int skel_open(const char *pin_dir, struct acct_bpf **ret)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct acct_bpf *s = acct_bpf__open_opts(&opts);

	if (!s)
		return negative_errno();
	*ret = s;
	return 0;
}

int acct_open(const char *pin_dir, struct acct **ret)
{
	char whybuf[ACCT_WHY_MAX], links[PATH_MAX];
	struct acct *a;
	int r;

	r = acct_probe(pin_dir, whybuf, sizeof(whybuf));
	if (r < 0)
		return log_debug_errno(r, "acct: %s", whybuf);
	if ((size_t)snprintf(links, sizeof(links), "%s/links", pin_dir) >= sizeof(links))
		return -ENAMETOOLONG;
	r = mkdir_p(pin_dir, 0700);
	if (r >= 0)
		r = mkdir_p(links, 0700);
	if (r < 0)
		return log_debug_errno(r, "acct: cannot make %s: %m", links);

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->id_lock, NULL);
	a->pin_dir = strdup(pin_dir);
	if (!a->pin_dir) {
		r = -ENOMEM;
		goto fail;
	}
	/* Every program at once, for the daemon's life: one load and one verifier run each (with
	 * CO-RE, each object load also parsed the kernel's BTF). The tc programs serve every
	 * uplink; the filters tell them which one (ACCT_TC_CLASSID). */
	r = skel_open(pin_dir, &a->skel);
	if (r < 0)
		goto fail;
	/* Looked at before the load pins anything: new maps mean a first start or a reboot. */
	r = pinned_exists(pin_dir, ACCT_MAP_COUNTERS);
	if (r < 0)
		goto fail;
	a->created = r == 0;
	/* libbpf 1.x raises RLIMIT_MEMLOCK itself, and only on kernels that still charge BPF
	 * memory to it (before 5.11's memcg accounting): nothing to do here. */
	r = acct_bpf__load(a->skel);
	if (r < 0) {
		log_debug_errno(r, "acct: loading the programs / reusing the maps pinned in %s "
				   "failed: %m", pin_dir);
		goto fail;
	}
	a->names_fd = bpf_map__fd(a->skel->maps.cmx_names);
	a->counters_fd = bpf_map__fd(a->skel->maps.cmx_counters);
	a->quota_fd = bpf_map__fd(a->skel->maps.cmx_quota);
	a->cgroups_fd = bpf_map__fd(a->skel->maps.cmx_cgroups);
	a->cg_session_fd = bpf_map__fd(a->skel->maps.cmx_cg_session);
	r = map_id(a->cg_session_fd, &a->cg_session_map_id);
	if (r < 0)
		goto fail;
	id_used_load(a);
	*ret = a;
	return 0;
fail:
	acct_close(a);
	return r;
}

void acct_close(struct acct *a)
{
	if (!a)
		return;
	ring_buffer__free(a->rb);
	acct_bpf__destroy(a->skel);
	pthread_mutex_destroy(&a->id_lock);
	free(a->pin_dir);
	free(a);
}

/* ---- sessions ---- */

/* The cgroup id the kernel reports for cgroup_dir (bpf_skb_cgroup_id): its kernfs file
 * handle, the same way libbpf's and systemd's helpers get it. */
static int cgroup_id(const char *dir, __u64 *ret)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(__u64)];
	} h = { .fh.handle_bytes = sizeof(__u64) };
	struct statfs sf;
	int mount_id;
	__u64 id;

	if (statfs(dir, &sf) < 0)
		return negative_errno();
	if (sf.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0) < 0)
		return negative_errno();
	memcpy(&id, h.fh.f_handle, sizeof(id));
	*ret = id;
	return 0;
}

/* pin_dir/links/session-NAME-DIR. bpffs refuses '.' in file names (reserved by the kernel), and
 * names may hold dots: they become ':', which no name holds. */
static int link_path(struct acct *a, const char *session, const char *dir, char *buf, size_t len)
{
	char enc[ACCT_NAME_LEN];
	size_t n = strlen(session);

	if (n >= sizeof(enc))
		return -ENAMETOOLONG;
	for (size_t i = 0; i <= n; i++)
		enc[i] = session[i] == '.' ? ':' : session[i];
	if ((size_t)snprintf(buf, len, "%s/links/session-%s-%s", a->pin_dir, enc, dir) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Removes a pinned cgroup link for good: BPF_LINK_DETACH cuts it even while other references
 * exist, then the pin goes. */
static int link_remove(const char *path)
{
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	(void)bpf_link_detach(fd); /* -ENOLINK/-EINVAL: already defunct, its cgroup is gone */
	close(fd);
	return unlink(path) < 0 && errno != ENOENT ? negative_errno() : 0;
}

/* Writes id into the cgroup's cmx_cg_session slot; -ENOENT: the cgroup has none (no link of
 * ours was ever on it). */
static int cg_session_set(struct acct *a, __u64 cgid, __u32 id)
{
	struct acct_map_cg_session v = { .id = id };

	return bpf_map_update_elem(a->cg_session_fd, &cgid, &v, BPF_EXIST);
}

/* Whether the program prog_id reads the cgroup storage map map_id. */
static int prog_uses_map(__u32 prog_id, __u32 map_id)
{
	__u32 ids[16], len;
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(prog_id), r;

	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	r = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (r < 0)
		return r;
	for (__u32 i = 0; i < info.nr_map_ids && i < ARRAY_SIZE(ids); i++)
		if (ids[i] == map_id)
			return 1;
	return 0;
}

/* Attaches prog to the cgroup through a link pinned at path, the cgroup's slot holding id once
 * it returns 0; a pinned link of a previous daemon on the same cgroup gets the new program
 * swapped in (one atomic update, no gap, no double).
 * Only a link whose program reads our cmx_cg_session can: the kernel allocates a link's cgroup
 * storage when the link is made, and BPF_LINK_UPDATE keeps the link's slots (none at all for a
 * program that used no storage, the programs before cmx_cg_session: a kernel without the fix
 * then dereferences NULL in bpf_get_local_storage()). Such a link is replaced by a new one. */
static int cgroup_link(struct acct *a, struct bpf_program *prog, int cgfd, __u64 cgid,
		       __u32 id, const char *path)
{
	struct bpf_link *link;
	int fd = bpf_obj_get(path), r;
	bool old = false;

	if (fd >= 0) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		r = bpf_obj_get_info_by_fd(fd, &info, &len);
		if (r == 0 && info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == cgid) {
			r = prog_uses_map(info.prog_id, a->cg_session_map_id);
			if (r == 1)
				r = bpf_link_update(fd, bpf_program__fd(prog), NULL);
			else if (r == 0)
				old = true; /* the same cgroup: the new link first, then this one goes */
		} else {
			r = 1;
		}
		close(fd); /* the pin keeps the link */
		if (r < 0 || (r == 0 && !old))
			return r;
		/* A link on a cgroup that is gone (a session restarted into a new one). */
		if (!old) {
			r = link_remove(path);
			if (r < 0)
				return r;
		}
	} else if (fd != -ENOENT) {
		return fd;
	}

	link = bpf_program__attach_cgroup(prog, cgfd);
	if (!link)
		return negative_errno();
	/* The first attach made the slot (zero: the program counts nothing yet). */
	r = cg_session_set(a, cgid, id);
	/* For the moment between the two links both count (the old program through
	 * cmx_cgroups), rather than neither: once, at an upgrade from a daemon before
	 * cmx_cg_session. */
	if (r == 0 && old)
		r = link_remove(path);
	if (r < 0) {
		bpf_link__destroy(link);
		return r;
	}
	r = bpf_link__pin(link, path);
	bpf_link__destroy(link); /* on success the pin holds it; on failure this detaches */
	return r;
}

static const char *const link_dirs[] = { "ingress", "egress" };

static int session_unhook(struct acct *a, const char *session, __u32 id)
{
	char path[PATH_MAX];
	int r = 0, k;

	for (size_t i = 0; i < ARRAY_SIZE(link_dirs); i++) {
		k = link_path(a, session, link_dirs[i], path, sizeof(path));
		if (k >= 0)
			k = link_remove(path);
		if (k < 0)
			r = k;
	}
	k = cgroups_unmap(a, id, 0);
	return r < 0 ? r : k;
}

int acct_session_attach(struct acct *a, const char *session, const char *cgroup_dir)
{
	struct bpf_program *progs[] = { a->skel->progs.cmx_cg_ingress,
					a->skel->progs.cmx_cg_egress };
	_cleanup_close_ int cgfd = -1;
	char path[PATH_MAX];
	struct acct_map_id id;
	bool unmapped = false, created;
	__u64 cgid;
	__u32 known;
	int r;

	r = id_get(a, ACCT_SESSION, session, &id, &created);
	if (r < 0)
		return r;
	r = cgroup_id(cgroup_dir, &cgid);
	if (r < 0)
		return r;
	cgfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return negative_errno();
	/* Already this session's (a restarted daemon re-attaching, an adopted worker): mapping it
	 * the first time unmapped every other cgroup of the id, so there is nothing to walk. The
	 * walk is O(sessions) per session: 1,024 adoptions spent seconds in it. */
	if (created || (bpf_map_lookup_elem(a->cgroups_fd, &cgid, &known) == 0 && known == id.id))
		unmapped = true; /* a new id: acct_forget() unmapped every cgroup of its last holder */
	/* The key first: the programs count from their first packet on. */
	r = bpf_map_update_elem(a->cgroups_fd, &cgid, &id.id, BPF_ANY);
	if (r < 0)
		return r;
	/* The cgroup's storage slot, if it has one already (a link of ours was, or is, on it):
	 * written before any program of ours runs on it, so none sees the id of whoever held the
	 * cgroup before (the slot lives with the cgroup, past a detach). A new slot is made zero by
	 * the first attach and written right after it (cgroup_link()). */
	r = cg_session_set(a, cgid, id.id);
	if (r < 0 && r != -ENOENT)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		r = link_path(a, session, link_dirs[i], path, sizeof(path));
		if (r >= 0)
			r = cgroup_link(a, progs[i], cgfd, cgid, id.id, path);
		if (r < 0) {
			log_debug_errno(r, "acct: attaching %s to %s failed: %m", path, cgroup_dir);
			(void)session_unhook(a, session, id.id);
			return r;
		}
	}
	/* Keys of the session's earlier cgroups: they are gone, their ids would never recur. */
	return unmapped ? 0 : cgroups_unmap(a, id.id, cgid);
}

int acct_session_detach(struct acct *a, const char *session, struct acct_counters *ret)
{
	struct acct_map_id id;
	int r = id_lookup(a, ACCT_SESSION, session, &id);

	if (r < 0)
		return r;
	r = session_unhook(a, session, id.id);
	if (r < 0)
		return r;
	/* Read after the links are gone: nothing can be added after this. */
	return counters_read(a, id.id, ret);
}

/* ---- uplinks ---- */

/* Whether ifname in the current namespace has an Ethernet header (14 bytes): tc sees it,
 * carriers bill without it. Raw-IP modems (wwan, rmnet) have none. */
static int has_eth_header(const char *ifname, bool *ret)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {};

	if (fd < 0)
		return negative_errno();
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return negative_errno();
	*ret = ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
	return 0;
}

/* Whether the filter at our handle/priority on hook runs one of our programs. 0: none there,
 * 1: ours, -EEXIST: someone else's. */
static int tc_filter_ours(const struct bpf_tc_hook *hook, const char *prog_name)
{
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = ACCT_TC_HANDLE, .priority = ACCT_TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, r;

	r = bpf_tc_query(hook, &q);
	/* -EINVAL: the hook has no filter chain at all yet. */
	if (r == -ENOENT || r == -EINVAL)
		return 0;
	if (r < 0)
		return r;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0)
		return fd;
	r = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (r < 0)
		return r;
	return !strcmp(info.name, prog_name) ? 1 : -EEXIST;
}

/* One request on a fresh NETLINK_ROUTE socket of the calling thread's namespace, read to its
 * ack (or a dump's end); cb (may be NULL) sees each data message. 0 or the kernel's -errno. */
static int nl_request(struct nlmsghdr *req, char *buf, size_t len, mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	unsigned portid;
	int r;

	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = negative_errno();
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = 1;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		r = negative_errno();
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, len);
		if (n < 0) {
			r = negative_errno();
			goto out;
		}
		/* An ack, an error (mnl_cb_run: -1 with errno) or NLMSG_DONE ends it. */
		r = mnl_cb_run(buf, (size_t)n, 1, portid, cb, data);
		if (r < 0) {
			r = negative_errno();
			goto out;
		}
		if (r == MNL_CB_STOP)
			break;
	}
	r = 0;
out:
	mnl_socket_close(nl);
	return r;
}

/* Number of tc filters under parent on ifindex (a netlink dump), to know whether the clsact
 * qdisc we made has other users now. */
struct filter_count {
	int n;
};

static int filter_count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct filter_count *c = data;

	/* An interrupted dump may have missed filters: say "some", the safe answer. */
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->n++;
	if (nlh->nlmsg_type == RTM_NEWTFILTER)
		c->n++;
	return MNL_CB_OK;
}

static int tc_filters(int ifindex, __u32 parent, int *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct filter_count c = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *t;
	int r;

	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_DUMP;
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = parent;
	r = nl_request(nlh, buf, sizeof(buf), filter_count_cb, &c);
	if (r < 0)
		return r;
	*ret = c.n;
	return 0;
}

/* Puts prog_fd on the clsact hook point of ifindex at our handle and priority, direct-action,
 * with classid (ACCT_TC_CLASSID) telling the shared program whose packets it sees. replace:
 * swap the program of our filter there (one atomic change, no gap), else add one (-EEXIST if
 * the slot is taken). bpf_tc_attach() does the same but cannot set a classid. */
static int tc_filter_put(int ifindex, enum bpf_tc_attach_point point, int prog_fd,
			 __u32 classid, bool replace)
{
	/* Zeroed: libmnl 1.0.4 leaves attribute padding (after an odd-length string) as it
	 * finds it, and the kernel would be sent stack garbage (valgrind in test_qmi saw it). */
	char buf[MNL_SOCKET_BUFFER_SIZE], name[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct nlattr *opts;
	struct tcmsg *t;
	int r;

	r = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s:[%u]", info.name, info.id); /* libbpf's and tc's form */
	nlh->nlmsg_type = RTM_NEWTFILTER;
	nlh->nlmsg_flags = NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_handle = ACCT_TC_HANDLE;
	t->tcm_parent = TC_H_MAKE(TC_H_CLSACT,
				  point == BPF_TC_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
	t->tcm_info = TC_H_MAKE((__u32)ACCT_TC_PRIO << 16, htons(ETH_P_ALL));
	mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
	opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u32(nlh, TCA_BPF_FD, (uint32_t)prog_fd);
	mnl_attr_put_strz(nlh, TCA_BPF_NAME, name);
	mnl_attr_put_u32(nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	mnl_attr_put_u32(nlh, TCA_BPF_CLASSID, classid);
	mnl_attr_nest_end(nlh, opts);
	return nl_request(nlh, buf, sizeof(buf), NULL, NULL);
}

struct tc_dir {
	enum bpf_tc_attach_point point;
	const char *prog_name;
};

static const struct tc_dir tc_dirs[] = {
	{ BPF_TC_INGRESS, "cmx_tc_ingress" },
	{ BPF_TC_EGRESS, "cmx_tc_egress" },
};

/* The part of acct_uplink_attach() that runs inside the namespace. */
static int uplink_hook(struct acct *a, int ifindex, __u32 classid, __u32 *flags)
{
	int fds[] = { bpf_program__fd(a->skel->progs.cmx_tc_ingress),
		      bpf_program__fd(a->skel->progs.cmx_tc_egress) };
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	bool created, was_ours = false, added[2] = { false, false };
	int r;

	r = bpf_tc_hook_create(&hook);
	if (r < 0 && r != -EEXIST)
		return r;
	created = r == 0;
	for (size_t i = 0; i < ARRAY_SIZE(tc_dirs); i++) {
		bool replace;

		hook.attach_point = tc_dirs[i].point;
		r = created ? 0 : tc_filter_ours(&hook, tc_dirs[i].prog_name);
		if (r < 0)
			goto undo;
		/* A previous daemon's filter: swap the program, keep the slot. */
		replace = r == 1;
		was_ours |= replace;
		r = tc_filter_put(ifindex, tc_dirs[i].point, fds[i], classid, replace);
		if (r < 0)
			goto undo;
		added[i] = !replace;
	}
	/* The qdisc is ours if we made it now, or if a previous daemon made it and its filters are
	 * still on it; a qdisc found without our filters belongs to someone else. */
	if (created)
		*flags |= ACCT_MAP_F_QDISC;
	else if (!was_ours)
		*flags &= ~(__u32)ACCT_MAP_F_QDISC;
	return 0;
undo:
	for (size_t i = 0; i < ARRAY_SIZE(tc_dirs); i++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = ACCT_TC_HANDLE, .priority = ACCT_TC_PRIO);

		hook.attach_point = tc_dirs[i].point;
		if (added[i])
			(void)bpf_tc_detach(&hook, &o);
	}
	if (created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		(void)bpf_tc_hook_destroy(&hook);
	}
	return r;
}

int acct_uplink_attach(struct acct *a, const char *uplink, int nsfd, const char *ifname)
{
	struct acct_map_id id;
	int saved = -1, ifindex, r, k;
	bool eth = false;
	__u32 flags;

	r = id_get(a, ACCT_UPLINK, uplink, &id, NULL);
	if (r < 0)
		return r;
	r = ns_enter(nsfd, &saved);
	if (r < 0)
		return r;
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex == 0) {
		r = errno == ENXIO || errno == ENODEV ? -ENODEV : negative_errno();
		goto out;
	}
	r = has_eth_header(ifname, &eth);
	if (r < 0)
		goto out;
	flags = id.flags;
	r = uplink_hook(a, ifindex, ACCT_TC_CLASSID(id.id, eth), &flags);
	if (r < 0) {
		log_debug_errno(r, "acct: attaching to %s of uplink %s failed: %m", ifname, uplink);
		goto out;
	}
	if (flags != id.flags)
		r = id_set_flags(a, ACCT_UPLINK, uplink, flags);
out:
	k = ns_leave(saved);
	return r < 0 ? r : k;
}

static int uplink_unhook(int ifindex, __u32 *flags)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex);
	int r = 0, k, n_in = 0, n_eg = 0;

	for (size_t i = 0; i < ARRAY_SIZE(tc_dirs); i++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = ACCT_TC_HANDLE, .priority = ACCT_TC_PRIO);

		hook.attach_point = tc_dirs[i].point;
		k = tc_filter_ours(&hook, tc_dirs[i].prog_name);
		if (k == 1)
			k = bpf_tc_detach(&hook, &o);
		/* No clsact at all means nothing of ours either. */
		if (k < 0 && k != -EEXIST && k != -ENOENT && k != -EINVAL)
			r = k;
	}
	if (r < 0 || !(*flags & ACCT_MAP_F_QDISC))
		return r;
	r = tc_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &n_in);
	if (r >= 0)
		r = tc_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &n_eg);
	if (r < 0)
		return r;
	if (n_in == 0 && n_eg == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		r = bpf_tc_hook_destroy(&hook);
		if (r < 0 && r != -ENOENT && r != -EINVAL)
			return r;
	}
	/* Left in place for the filters others put on it since: theirs now. */
	*flags &= ~(__u32)ACCT_MAP_F_QDISC;
	return 0;
}

int acct_uplink_detach(struct acct *a, const char *uplink, int nsfd, const char *ifname,
		       struct acct_counters *ret)
{
	struct acct_map_id id;
	int saved = -1, ifindex, r, k;
	__u32 flags;

	r = id_lookup(a, ACCT_UPLINK, uplink, &id);
	if (r < 0)
		return r;
	if (nsfd >= 0) {
		r = ns_enter(nsfd, &saved);
		if (r < 0)
			return r;
		ifindex = (int)if_nametoindex(ifname);
		flags = id.flags;
		r = ifindex ? uplink_unhook(ifindex, &flags) : 0;
		k = ns_leave(saved);
		if (r < 0)
			return r;
		if (k < 0)
			return k;
		if (flags != id.flags) {
			r = id_set_flags(a, ACCT_UPLINK, uplink, flags);
			if (r < 0)
				return r;
		}
	}
	return counters_read(a, id.id, ret);
}

/* ---- reading, quotas ---- */

int acct_read(struct acct *a, enum acct_kind kind, const char *name, struct acct_counters *ret)
{
	struct acct_map_id id;
	int r = id_lookup(a, kind, name, &id);

	if (r < 0)
		return r;
	return counters_read(a, id.id, ret);
}

static __u64 total_bytes(const struct acct_map_counters *c)
{
	return c->rx.bytes + c->tx.bytes;
}

int acct_set_quota(struct acct *a, enum acct_kind kind, const char *name, uint64_t limit_bytes,
		   enum acct_quota_action action)
{
	struct acct_map_quota q = {}, old;
	struct acct_map_counters c;
	struct acct_map_id id;
	int r;

	if (action == ACCT_QUOTA_NONE) {
		r = id_lookup(a, kind, name, &id);
		if (r < 0)
			return r == -ENOENT ? 0 : r;
		return bpf_map_update_elem(a->quota_fd, &id.id, &q, BPF_ANY);
	}
	if (action != ACCT_QUOTA_NOTIFY && action != ACCT_QUOTA_BLOCK)
		return -EINVAL;
	r = id_get(a, kind, name, &id, NULL);
	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(a->counters_fd, &id.id, &c);
	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(a->quota_fd, &id.id, &old);
	if (r < 0)
		return r;
	if (old.action) {
		/* Still over the new limit: stays flagged, the crossing is not reported twice. */
		q.base = old.base;
		q.over = old.over && total_bytes(&c) - old.base >= limit_bytes;
	}
	q.limit = limit_bytes;
	q.action = (__u32)action;
	return bpf_map_update_elem(a->quota_fd, &id.id, &q, BPF_ANY);
}

int acct_quota_reset(struct acct *a, enum acct_kind kind, const char *name, uint64_t used_bytes)
{
	struct acct_map_counters c;
	struct acct_map_quota q;
	struct acct_map_id id;
	int r = id_lookup(a, kind, name, &id);

	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(a->quota_fd, &id.id, &q);
	if (r < 0)
		return r;
	if (!q.action)
		return -ENOENT;
	r = bpf_map_lookup_elem(a->counters_fd, &id.id, &c);
	if (r < 0)
		return r;
	/* Modulo 2^64 on purpose: used_bytes above the counters (a reboot emptied them) puts base
	 * "below zero", and the programs' subtraction wraps back to the right usage. */
	q.base = total_bytes(&c) - used_bytes;
	q.over = 0;
	return bpf_map_update_elem(a->quota_fd, &id.id, &q, BPF_ANY);
}

/* The names map and the array maps' entries below the highest id in use, in a few batch
 * lookups: a scrape read them one by one, three system calls per name. */
struct acct_snapshot {
	__u32 n; /* ids 0..n-1 */
	__u32 *keys;
	struct acct_map_counters *c;
	struct acct_map_quota *q;
	struct snap_name *names; /* sorted by key; NULL: look each name up in the map */
	__u32 n_names;
};

struct snap_name {
	struct acct_map_name key;
	__u32 id;
};

static int snap_name_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct snap_name *)a)->key, &((const struct snap_name *)b)->key,
		      sizeof(struct acct_map_name));
}

/* Every name and its id, in batches (a hash map's batch ends at a bucket boundary). cap: the
 * names this process made, plus room. */
static int names_read(struct acct *a, struct acct_snapshot *sn, __u32 cap)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct acct_map_name *keys = calloc(cap, sizeof(*keys));
	struct acct_map_id *vals = calloc(cap, sizeof(*vals));
	__u32 total = 0, in = 0, out = 0;
	bool started = false;
	int r = keys && vals ? 0 : -ENOMEM;

	while (r == 0) {
		__u32 count = cap - total;

		if (count == 0) {
			r = -ENOSPC;
			break;
		}
		r = bpf_map_lookup_batch(a->names_fd, started ? &in : NULL, &out, keys + total,
					 vals + total, &count, &opts);
		if (r < 0 && r != -ENOENT)
			break;
		total += count;
		if (r == -ENOENT) {
			r = 0;
			break;
		}
		in = out;
		started = true;
	}
	if (r == 0 && !(sn->names = calloc(total ? total : 1, sizeof(*sn->names))))
		r = -ENOMEM;
	if (r == 0) {
		for (__u32 i = 0; i < total; i++)
			sn->names[i] = (struct snap_name){ keys[i], vals[i].id };
		sn->n_names = total;
		qsort(sn->names, total, sizeof(*sn->names), snap_name_cmp);
	}
	free(keys);
	free(vals);
	return r;
}

static int batch_read(int fd, __u32 n, __u32 *keys, void *values)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = n, next;
	int r = bpf_map_lookup_batch(fd, NULL, &next, keys, values, &count, &opts);

	/* -ENOENT: the map's end came within the batch, everything was read. */
	if (r < 0 && r != -ENOENT)
		return r;
	return count == n ? 0 : -EIO;
}

int acct_snapshot_take(struct acct *a, struct acct_snapshot **ret)
{
	struct acct_snapshot *sn;
	__u32 n = 0, used = 0;
	int r;

	pthread_mutex_lock(&a->id_lock);
	for (__u32 id = 0; id < ACCT_MAX_KEYS; id++)
		if (a->used[id / 8] & (1u << (id % 8))) {
			n = id + 1;
			used++;
		}
	pthread_mutex_unlock(&a->id_lock);
	sn = calloc(1, sizeof(*sn));
	if (!sn)
		return -ENOMEM;
	sn->n = n;
	sn->keys = calloc(n, sizeof(*sn->keys));
	sn->c = calloc(n, sizeof(*sn->c));
	sn->q = calloc(n, sizeof(*sn->q));
	if (!sn->keys || !sn->c || !sn->q)
		r = -ENOMEM;
	else if ((r = batch_read(a->counters_fd, n, sn->keys, sn->c)) == 0)
		r = batch_read(a->quota_fd, n, sn->keys, sn->q);
	if (r < 0) {
		acct_snapshot_free(sn);
		return r;
	}
	/* Room for names made meanwhile by uplink threads; without the copy, each name is looked
	 * up in the map. */
	if (names_read(a, sn, used + 64) < 0) {
		free(sn->names);
		sn->names = NULL;
	}
	*ret = sn;
	return 0;
}

void acct_snapshot_free(struct acct_snapshot *sn)
{
	if (!sn)
		return;
	free(sn->keys);
	free(sn->c);
	free(sn->q);
	free(sn->names);
	free(sn);
}

int acct_read_all(struct acct *a, const struct acct_snapshot *sn, enum acct_kind kind,
		  const char *name, struct acct_counters *c, struct acct_quota *q)
{
	struct acct_map_counters mc;
	struct acct_map_quota mq;
	struct acct_map_id id;
	struct snap_name want, *hit = NULL;
	int r;

	if (sn && sn->names) {
		r = name_key(kind, name, &want.key);
		if (r < 0)
			return r;
		hit = bsearch(&want, sn->names, sn->n_names, sizeof(want), snap_name_cmp);
	}
	if (hit)
		id.id = hit->id;
	else if ((r = id_lookup(a, kind, name, &id)) < 0) /* made after the copy, or none */
		return r;
	if (sn && id.id < sn->n) {
		mc = sn->c[id.id];
		mq = sn->q[id.id];
	} else {
		/* No snapshot, or a name made after it. */
		r = bpf_map_lookup_elem(a->counters_fd, &id.id, &mc);
		if (r < 0)
			return r;
		if (bpf_map_lookup_elem(a->quota_fd, &id.id, &mq) < 0)
			mq.action = 0;
	}
	counters_from_map(&mc, c);
	memset(q, 0, sizeof(*q));
	if (mq.action)
		*q = (struct acct_quota){
			.limit_bytes = mq.limit,
			.used_bytes = total_bytes(&mc) - mq.base,
			.action = (enum acct_quota_action)mq.action,
			.over = mq.over != 0,
		};
	return 0;
}

int acct_quota_state(struct acct *a, enum acct_kind kind, const char *name, struct acct_quota *ret)
{
	struct acct_map_counters c;
	struct acct_map_quota q;
	struct acct_map_id id;
	int r = id_lookup(a, kind, name, &id);

	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(a->quota_fd, &id.id, &q);
	if (r < 0)
		return r;
	if (!q.action)
		return -ENOENT;
	r = bpf_map_lookup_elem(a->counters_fd, &id.id, &c);
	if (r < 0)
		return r;
	*ret = (struct acct_quota){
		.limit_bytes = q.limit,
		.used_bytes = total_bytes(&c) - q.base,
		.action = (enum acct_quota_action)q.action,
		.over = q.over != 0,
	};
	return 0;
}

int acct_forget(struct acct *a, enum acct_kind kind, const char *name)
{
	struct acct_map_name key;
	struct acct_map_id id;
	int r = name_key(kind, name, &key);

	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(a->names_fd, &key, &id);
	if (r < 0)
		return r;
	/* The programs first, then the name: a freed id must not be reachable when it is handed
	 * out again (id_get() zeroes its entries then). A session's cgroup keeps its id in its
	 * storage slot as long as our links are on it: they go (a detached session has none left).
	 * A tc filter still running this uplink's instance would keep counting into it: detach an
	 * uplink before forgetting it. */
	r = kind == ACCT_SESSION ? session_unhook(a, name, id.id) : cgroups_unmap(a, id.id, 0);
	if (r < 0)
		return r;
	r = bpf_map_delete_elem(a->names_fd, &key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&a->id_lock);
	id_mark(a, id.id, false);
	pthread_mutex_unlock(&a->id_lock);
	return 0;
}

/* ---- carrying counters over a reboot ---- */

bool acct_maps_created(const struct acct *a)
{
	return a->created;
}

int acct_foreach(struct acct *a,
		 int (*fn)(void *userdata, enum acct_kind kind, const char *name,
			   const struct acct_counters *c, const struct acct_quota *q),
		 void *userdata)
{
	struct acct_map_name key, next;
	void *prev = NULL;
	int n = 0;

	while (bpf_map_get_next_key(a->names_fd, prev, &next) == 0) {
		struct acct_map_counters mc;
		struct acct_map_quota mq;
		struct acct_counters c;
		struct acct_quota q;
		struct acct_map_id v;
		char name[ACCT_NAME_LEN + 1];

		key = next;
		prev = &key;
		/* A name forgotten since the walk saw it: skip it. */
		if (bpf_map_lookup_elem(a->names_fd, &key, &v) < 0 || v.id >= ACCT_MAX_KEYS ||
		    bpf_map_lookup_elem(a->counters_fd, &v.id, &mc) < 0 ||
		    bpf_map_lookup_elem(a->quota_fd, &v.id, &mq) < 0)
			continue;
		memcpy(name, key.name, ACCT_NAME_LEN);
		name[ACCT_NAME_LEN] = '\0';
		counters_from_map(&mc, &c);
		q = (struct acct_quota){
			.limit_bytes = mq.limit,
			.used_bytes = total_bytes(&mc) - mq.base,
			.action = (enum acct_quota_action)mq.action,
			.over = mq.over != 0,
		};
		n++;
		if (fn(userdata, (enum acct_kind)key.kind, name, &c, mq.action ? &q : NULL))
			break;
	}
	return n;
}

int acct_restore(struct acct *a, enum acct_kind kind, const char *name,
		 const struct acct_counters *c, const struct acct_quota *q)
{
	struct acct_map_counters mc = {
		.rx = { .bytes = c->rx_bytes, .packets = c->rx_packets,
			.drop_packets = c->rx_dropped },
		.tx = { .bytes = c->tx_bytes, .packets = c->tx_packets,
			.drop_packets = c->tx_dropped },
	};
	struct acct_map_quota mq = {};
	struct acct_map_id id;
	int r;

	if (q && q->action != ACCT_QUOTA_NONE) {
		if (q->action != ACCT_QUOTA_NOTIFY && q->action != ACCT_QUOTA_BLOCK)
			return -EINVAL;
		/* The usage as it was, whatever the counters: base is taken modulo 2^64. */
		mq.limit = q->limit_bytes;
		mq.base = total_bytes(&mc) - q->used_bytes;
		mq.action = (__u32)q->action;
		mq.over = q->over;
	}
	r = id_lookup(a, kind, name, &id);
	if (r != -ENOENT)
		return r < 0 ? r : -EEXIST;
	/* A new id is unreachable by any program until something attaches under the name. */
	r = id_get(a, kind, name, &id, NULL);
	if (r < 0)
		return r;
	r = bpf_map_update_elem(a->counters_fd, &id.id, &mc, BPF_ANY);
	if (r >= 0)
		r = bpf_map_update_elem(a->quota_fd, &id.id, &mq, BPF_ANY);
	return r;
}

/* ---- events ---- */

static int on_event(void *ctx, void *data, size_t size)
{
	const struct acct_map_event *e = data;
	struct acct *a = ctx;
	struct acct_map_name key;
	struct acct_event ev;

	if (size < sizeof(*e) || name_of_id(a, e->id, &key) < 0)
		return 0; /* a name forgotten since: nobody to tell */
	ev = (struct acct_event){
		.kind = (enum acct_kind)key.kind,
		.name = key.name,
		.used_bytes = e->used,
		.limit_bytes = e->limit,
		.action = (enum acct_quota_action)e->action,
	};
	a->n_events++;
	if (a->event_fn)
		a->event_fn(&ev, a->event_userdata);
	return 0;
}

int acct_events_fd(struct acct *a, acct_event_fn fn, void *userdata)
{
	a->event_fn = fn;
	a->event_userdata = userdata;
	if (!a->rb) {
		a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.cmx_events), on_event, a, NULL);
		if (!a->rb)
			return negative_errno();
	}
	return ring_buffer__epoll_fd(a->rb);
}

int acct_events_process(struct acct *a)
{
	int r;

	if (!a->rb)
		return -EBADF;
	a->n_events = 0;
	r = ring_buffer__consume(a->rb);
	return r < 0 ? r : a->n_events;
}
