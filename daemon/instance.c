/* instance.c — a second cellmuxd started with the same config (by hand, beside the service)
 * would bring up the same namespaces, adopt the first one's sessions and write the same pinned
 * maps before its admin socket found the address taken. A lock on the directories that make an
 * instance what it is stops it before it touches anything. flock on the directory itself: the
 * pin directory is on bpffs, which holds no plain files. */
#include "daemon/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf/acct.h"
#include "common/macro.h"

static int lock_dir(const char *dir, int *fd)
{
	*fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return 0;
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return 0;
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : negative_errno();

		close(*fd);
		*fd = -1;
		return r;
	}
	return 0;
}

int instance_lock(const struct cmx_config *c, int fds[2], const char **which)
{
	const char *dirs[2] = {
		c->daemon.state_dir[0] ? c->daemon.state_dir : CONFIG_DEFAULT_STATE_DIR,
		c->daemon.bpf_dir[0] ? c->daemon.bpf_dir : ACCT_PIN_DIR,
	};

	fds[0] = fds[1] = -1;
	for (int i = 0; i < 2; i++) {
		int r = lock_dir(dirs[i], &fds[i]);

		if (r < 0) {
			*which = dirs[i];
			instance_unlock(fds);
			return r;
		}
	}
	return 0;
}

void instance_unlock(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}
