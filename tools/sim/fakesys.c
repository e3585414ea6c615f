/* fakesys.c — the sysfs a USB QMI modem shows, for the fake ones (`up --qmi`): cellmuxd finds
 * a driver=qmi match= modem by walking /sys/class/usbmisc, and a test mounts SIM_SYS_DIR/class/
 * usbmisc there in the daemon's own mount namespace. The layout is the kernel's, for a modem on
 * port P of hub 1-1 with its QMI function on USB interface 4 (as a Sierra or Quectel module):
 *
 *   class/usbmisc/cdc-wdmK -> SIM_SYS_DIR/devices/usb1/1-1/1-1.P/1-1.P:1.4/usbmisc/cdc-wdmK
 *   devices/usb1/1-1/1-1.P/1-1.P:1.4/usbmisc/cdc-wdmK/device -> ../../../1-1.P:1.4
 *   devices/usb1/1-1/1-1.P/1-1.P:1.4/net/IFNAME/
 *
 * Where modem i is plugged is noted in SIM_RUN_DIR/modemI.usb ("P K"), as modemI.if notes its
 * interface name; the kernel's rule for the number K is followed: the lowest one free. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "tools/sim/sim.h"

static void usb_file(int modem, char *buf, size_t len)
{
	snprintf(buf, len, SIM_RUN_DIR "/modem%d.usb", modem);
}

int fakesys_where(int modem, unsigned *port, unsigned *wdm)
{
	char path[64];
	FILE *f;
	int n;

	usb_file(modem, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENODEV : negative_errno();
	n = fscanf(f, "%u %u", port, wdm);
	fclose(f);
	return n == 2 ? 0 : -EINVAL;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return negative_errno();
		*s = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? negative_errno() : 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path)
{
	if (nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}

int fakesys_free_wdm(int n_modems, unsigned *wdm)
{
	for (unsigned k = 0; k < SIM_MAX_MODEMS; k++) {
		bool used = false;

		for (int i = 0; i < n_modems && !used; i++) {
			unsigned p, w;
			used = fakesys_where(i, &p, &w) == 0 && w == k;
		}
		if (!used) {
			*wdm = k;
			return 0;
		}
	}
	return -ENOSPC;
}

int fakesys_plug(int modem, unsigned port, unsigned wdm, const char *ifname)
{
	char intf[160], path[PATH_MAX], link[PATH_MAX], note[32];
	int r;

	snprintf(intf, sizeof(intf), SIM_SYS_DIR "/devices/usb1/1-1/1-1.%u/1-1.%u:1.4", port, port);
	snprintf(path, sizeof(path), "%s/usbmisc/cdc-wdm%u", intf, wdm);
	if ((r = mkdir_p(path)) < 0 || (r = mkdir_p(SIM_SYS_DIR "/class/usbmisc")) < 0)
		return log_error_errno(r, "creating %s: %m", path);
	snprintf(path, sizeof(path), "%s/usbmisc/cdc-wdm%u/device", intf, wdm);
	snprintf(link, sizeof(link), "../../../1-1.%u:1.4", port);
	if (symlink(link, path) < 0 && errno != EEXIST)
		return log_error_errno(negative_errno(), "linking %s: %m", path);
	snprintf(path, sizeof(path), "%s/net/%s", intf, ifname);
	if ((r = mkdir_p(path)) < 0)
		return log_error_errno(r, "creating %s: %m", path);
	snprintf(path, sizeof(path), SIM_SYS_DIR "/class/usbmisc/cdc-wdm%u", wdm);
	/* Absolute, unlike the kernel's: the test mounts class/usbmisc alone over /sys/class/
	 * usbmisc, where "../../devices" would lead into the real sysfs. */
	snprintf(link, sizeof(link), "%s/usbmisc/cdc-wdm%u", intf, wdm);
	if (symlink(link, path) < 0 && errno != EEXIST)
		return log_error_errno(negative_errno(), "linking %s: %m", path);
	usb_file(modem, path, sizeof(path));
	snprintf(note, sizeof(note), "%u %u\n", port, wdm);
	r = write_file(path, note);
	if (r < 0)
		return log_error_errno(r, "writing %s: %m", path);
	return 0;
}

int fakesys_unplug(int modem)
{
	char path[PATH_MAX];
	unsigned port, wdm;
	int r = fakesys_where(modem, &port, &wdm);

	if (r < 0)
		return r == -ENODEV ? 0 : r;
	snprintf(path, sizeof(path), SIM_SYS_DIR "/class/usbmisc/cdc-wdm%u", wdm);
	if (unlink(path) < 0 && errno != ENOENT)
		return log_error_errno(negative_errno(), "removing %s: %m", path);
	snprintf(path, sizeof(path), SIM_SYS_DIR "/devices/usb1/1-1/1-1.%u", port);
	r = rm_rf(path);
	if (r < 0)
		return log_error_errno(r, "removing %s: %m", path);
	usb_file(modem, path, sizeof(path));
	return unlink(path) < 0 && errno != ENOENT ? negative_errno() : 0;
}

int fakesys_remove(void)
{
	return rm_rf(SIM_SYS_DIR);
}
