/* ident.c — match= terms and device facts: parsing and checking are pure (unit-tested); reading
 * a device's MAC and USB port path from sysfs is the one place that touches the system. */
#include "netns/ident.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"

static const char *const kind_names[] = {
	[IDENT_MAC] = "mac",
	[IDENT_USB] = "usb",
	[IDENT_IMEI] = "imei",
	[IDENT_ICCID] = "iccid",
};

const char *ident_kind_name(enum ident_kind k)
{
	return (size_t)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

char ident_luhn(const char *digits)
{
	int sum = 0, n = (int)strlen(digits);

	for (int i = 0; i < n; i++) {
		int d = digits[n - 1 - i] - '0';

		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

static bool all_digits(const char *s, size_t n)
{
	return n > 0 && strspn(s, "0123456789") == n;
}

/* "aa:bb:cc:dd:ee:ff", either case; written back lower case so comparing is strcmp. */
static int mac_parse(const char *s, char *out)
{
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[17] = '\0';
	return 0;
}

/* Bus, then ports: "1-1", "2-1.4.3" (USB allows 7 tiers; sysfs writes them like this). */
static bool usb_path_valid(const char *s, size_t n)
{
	size_t i = 0, bus = strspn(s, "0123456789");

	if (bus == 0 || bus >= n || s[bus] != '-')
		return false;
	i = bus + 1;
	for (;;) {
		size_t port = strspn(s + i, "0123456789");

		if (port == 0 || port > 3)
			return false;
		i += port;
		if (i == n)
			return true;
		if (s[i] != '.')
			return false;
		i++;
	}
}

int ident_term_parse(const char *s, struct ident_term *out, const char **why)
{
	const char *colon = strchr(s, ':');
	const char *v;
	size_t k, n;

	*why = "want KIND:VALUE with KIND imei, iccid, mac or usb";
	if (!colon)
		return -EINVAL;
	for (k = 0; k < ARRAY_SIZE(kind_names); k++)
		if ((size_t)(colon - s) == strlen(kind_names[k]) &&
		    !strncmp(s, kind_names[k], (size_t)(colon - s)))
			break;
	if (k == ARRAY_SIZE(kind_names))
		return -EINVAL;
	v = colon + 1;
	n = strlen(v);
	memset(out, 0, sizeof(*out));
	out->kind = (enum ident_kind)k;
	switch (out->kind) {
	case IDENT_MAC:
		*why = "a MAC is six hex bytes like 02:00:5e:10:00:01";
		return mac_parse(v, out->value);
	case IDENT_USB:
		*why = "a USB path is BUS-PORT[.PORT...] as in /sys/bus/usb/devices, like 1-1.2";
		if (n >= sizeof(out->value) || !usb_path_valid(v, n))
			return -EINVAL;
		break;
	case IDENT_IMEI:
		*why = "an IMEI is 15 digits with a valid Luhn check digit";
		if (n != 15 || !all_digits(v, n))
			return -EINVAL;
		{
			char body[15];

			memcpy(body, v, 14);
			body[14] = '\0';
			if (ident_luhn(body) != v[14])
				return -EINVAL;
		}
		break;
	case IDENT_ICCID:
		/* E.118: up to 19 digits plus a check digit; some SIMs report 18 or 22. */
		*why = "an ICCID is 18 to 22 digits";
		if (n < 18 || n > 22 || !all_digits(v, n))
			return -EINVAL;
		break;
	}
	memcpy(out->value, v, n + 1);
	return 0;
}

int ident_match_add(struct ident_match *m, const struct ident_term *t)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->t[i].kind == t->kind)
			return -EEXIST;
	if (m->n >= IDENT_MAX_TERMS)
		return -E2BIG;
	m->t[m->n++] = *t;
	return 0;
}

bool ident_match_needs_modem(const struct ident_match *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->t[i].kind == IDENT_IMEI || m->t[i].kind == IDENT_ICCID)
			return true;
	return false;
}

static const char *fact_of(const struct ident_facts *f, enum ident_kind k)
{
	switch (k) {
	case IDENT_MAC:
		return f->mac;
	case IDENT_USB:
		return f->usb;
	case IDENT_IMEI:
		return f->imei;
	case IDENT_ICCID:
		return f->iccid;
	}
	return "";
}

enum ident_verdict ident_match_check(const struct ident_match *m, const struct ident_facts *f)
{
	enum ident_verdict v = m->n ? IDENT_YES : IDENT_NO;

	for (size_t i = 0; i < m->n; i++) {
		const char *have = fact_of(f, m->t[i].kind);
		char mac[18];

		if (!have[0]) {
			v = IDENT_UNKNOWN;
			continue;
		}
		/* A MAC may come from anywhere in either case. */
		if (m->t[i].kind == IDENT_MAC && mac_parse(have, mac) == 0)
			have = mac;
		if (strcmp(have, m->t[i].value))
			return IDENT_NO;
	}
	return v;
}

const char *ident_match_fmt(const struct ident_match *m, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < m->n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s:%s", i ? "," : "",
				 ident_kind_name(m->t[i].kind), m->t[i].value);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

int ident_usb_path_of(const char *devpath, char *out, size_t len)
{
	const char *end = devpath + strlen(devpath);

	/* From the leaf up: the first component that is a USB device ("1-1.2") or one of its
	 * interfaces ("1-1.2:1.4"); a net device and its QMI port share the device. */
	while (end > devpath) {
		const char *start = end;
		size_t n;

		while (start > devpath && start[-1] != '/')
			start--;
		n = (size_t)(end - start);
		const char *colon = memchr(start, ':', n);
		if (colon)
			n = (size_t)(colon - start);
		if (n > 0 && usb_path_valid(start, n)) {
			if (n >= len)
				return -ENAMETOOLONG;
			memcpy(out, start, n);
			out[n] = '\0';
			return 0;
		}
		end = start > devpath ? start - 1 : devpath;
	}
	return -ENOENT;
}

static int read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(out, (int)len, f))
		r = -ENODATA;
	else
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
	return r;
}

static int usb_of(const char *link, char *out, size_t len)
{
	char target[PATH_MAX];

	if (!realpath(link, target))
		return -errno;
	return ident_usb_path_of(target, out, len);
}

int ident_usb_of_class(const char *root, const char *cls, const char *name, char *out,
		       size_t len)
{
	char link[PATH_MAX];

	if (strchr(name, '/') || (size_t)snprintf(link, sizeof(link), "%s/class/%s/%s/device",
						  root, cls, name) >= sizeof(link))
		return -EINVAL;
	return usb_of(link, out, len);
}

int ident_facts_sysfs(const char *root, const char *ifname, struct ident_facts *f)
{
	char path[PATH_MAX], mac[64];
	int r;

	memset(f, 0, sizeof(*f));
	if (strchr(ifname, '/') ||
	    (size_t)snprintf(path, sizeof(path), "%s/class/net/%s/address", root, ifname) >=
		sizeof(path))
		return -EINVAL;
	r = read_line(path, mac, sizeof(mac));
	if (r < 0)
		return r;
	if (mac_parse(mac, f->mac) < 0)
		f->mac[0] = '\0'; /* not Ethernet-like (a raw-ip wwan has none): no MAC to match */
	/* No device link (a veth) or not USB: no USB path, not an error. */
	if (ident_usb_of_class(root, "net", ifname, f->usb, sizeof(f->usb)) < 0)
		f->usb[0] = '\0';
	return 0;
}

int ident_find_netdev(const char *root, const struct ident_match *m, char *ifname, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct ident_facts f;
	DIR *d;
	int r = -ENODEV;

	snprintf(dir, sizeof(dir), "%s/class/net", root);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || ident_facts_sysfs(root, de->d_name, &f) < 0)
			continue;
		if (ident_match_check(m, &f) != IDENT_YES)
			continue;
		if (strlen(de->d_name) >= len) {
			r = -ENAMETOOLONG;
			break;
		}
		strcpy(ifname, de->d_name);
		r = 0;
		break;
	}
	closedir(d);
	return r;
}
