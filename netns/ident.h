/* ident.h — a modem's stable identity: an uplink's match= terms (MAC, USB path, IMEI, ICCID),
 * the facts a device shows, and whether they agree. Pure but for ident_facts_sysfs(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum ident_kind {
	IDENT_MAC,   /* the data interface's MAC, "02:00:5e:10:00:01" (stored lower case) */
	IDENT_USB,   /* the USB port path as sysfs names it, "1-1.2": where the modem is plugged */
	IDENT_IMEI,  /* the modem's IMEI (15 digits, Luhn check digit): asked from the modem */
	IDENT_ICCID, /* the SIM's ICCID (18-22 digits): asked from the modem */
};

#define IDENT_MAX_TERMS 4 /* one of each kind */
#define IDENT_VALUE_MAX 32

struct ident_term {
	enum ident_kind kind;
	char value[IDENT_VALUE_MAX];
};

/* Every term must hold (an AND): match=usb:1-1.2 plus match=iccid:... pins a SIM to a port. */
struct ident_match {
	struct ident_term t[IDENT_MAX_TERMS];
	size_t n;
};

/* What a candidate device shows; "" = unknown (not asked yet, or it has none). */
struct ident_facts {
	char mac[18];
	char usb[IDENT_VALUE_MAX];
	char imei[20];
	char iccid[24];
};

enum ident_verdict { IDENT_NO, IDENT_YES, IDENT_UNKNOWN };

/* Parses "imei:350000000000008", "iccid:8999...", "mac:02:..", "usb:1-1.2". On -EINVAL *why
 * says what is wrong (a static string). */
int ident_term_parse(const char *s, struct ident_term *out, const char **why);
/* Adds a term; -EEXIST when its kind is there already (two MACs can never both hold). */
int ident_match_add(struct ident_match *m, const struct ident_term *t);
/* Whether a term needs the modem asked (IMEI, ICCID: only the qmi driver can). */
bool ident_match_needs_modem(const struct ident_match *m);
/* NO as soon as one known fact differs; YES when every term holds; else UNKNOWN (a fact is
 * missing: an IMEI the modem has not been asked for yet). */
enum ident_verdict ident_match_check(const struct ident_match *m, const struct ident_facts *f);
/* "mac:02:..,usb:1-1.2" into buf, for logs. */
const char *ident_match_fmt(const struct ident_match *m, char *buf, size_t len);
const char *ident_kind_name(enum ident_kind k);

/* The USB port path ("1-1.2") of a device from its sysfs path (the target of
 * /sys/class/net/IF/device: ".../usb1/1-1/1-1.2/1-1.2:1.4"); -ENOENT when not on USB. */
int ident_usb_path_of(const char *devpath, char *out, size_t len);
/* The Luhn check digit of a digit string, as IMEIs and ICCIDs carry it. */
char ident_luhn(const char *digits);

/* Reads MAC and USB path of network interface ifname from sysfs under root ("/sys"; tests pass
 * a tree of their own). Only the namespace that mounted sysfs shows there: the host's. */
int ident_facts_sysfs(const char *root, const char *ifname, struct ident_facts *f);
/* The USB path of a char device's class entry, /sys/class/usbmisc/cdc-wdmN. */
int ident_usb_of_class(const char *root, const char *cls, const char *name, char *out,
		       size_t len);
/* The first interface under root/class/net whose facts satisfy m: -ENODEV when none does. */
int ident_find_netdev(const char *root, const struct ident_match *m, char *ifname, size_t len);
