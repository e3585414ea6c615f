/* qmi_ident.h — which QMI control port a driver=qmi match= names: the ports sysfs lists, their
 * USB path and data interface, and what the modem says of itself (IMEI, its SIM's ICCID). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "netns/ident.h"

/* The net device that shares the USB interface of QMI port (a sysfs name like "cdc-wdm0") under
 * root (/sys): -ENODEV when none shows (unbound, or moved to another network namespace, which
 * hides it from this sysfs). */
int qmi_ident_netdev(const char *root, const char *port, char *ifname, size_t len);

/* Asks the modem at device ("/dev/cdc-wdm0") for its IMEI and, when iccid, its SIM's ICCID,
 * through the qmi-proxy named proxy ("" = libqmi's own, which it starts if need be). Blocks at
 * most timeout_ms in a private main context; -ETIMEDOUT, -ENODEV (no proxy listening), -EIO. */
int qmi_ident_ask(const char *device, const char *proxy, bool iccid, unsigned timeout_ms,
		  struct ident_facts *f);

/* Whether something listens on the qmi-proxy abstract socket name. libqmi would start qmi-proxy
 * when nothing does: right for its own (that opens the real port), useless for any other. */
bool qmi_proxy_listening(const char *name);

/* Runs ctx (a private context, never the daemon's) until *pending drops to 0 or ms pass;
 * whether it did. The driver's bounded waits and the identity ask share it. */
bool qmi_ctx_wait(GMainContext *ctx, const int *pending, unsigned ms);

/* Whether port ("/dev/cdc-wdm0") is taken already (another uplink runs on it): not asked. */
typedef bool (*qmi_ident_taken_fn)(const char *device, void *data);

/* The first QMI port under root/class/usbmisc (or the older root/class/usb) whose facts satisfy
 * m: sysfs first (USB path, the data interface's MAC), the modem asked only when that leaves the
 * answer open. Fills device ("/dev/cdc-wdmN") and ifname ("" when sysfs shows none); -ENODEV
 * when no port matches. Ports are tried in name order, each asked at most timeout_ms; why (wlen
 * 0: not wanted) tells the ports whose modem could not be asked, "" when every one answered:
 * "no answer from /dev/cdc-wdm0 within 2 s", "...; /dev/cdc-wdm1: Input/output error". */
int qmi_ident_find(const char *root, const struct ident_match *m, const char *proxy,
		   unsigned timeout_ms, qmi_ident_taken_fn taken, void *data, char *device,
		   size_t dlen, char *ifname, size_t ilen, char *why, size_t wlen);
