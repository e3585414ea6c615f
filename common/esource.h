/* esource.h — many descriptors behind one GSource: an epoll set that GLib polls as a single
 * fd, so a wake-up costs the same with 16 sessions as with 1,024 (GLib's own poll() walks
 * every g_unix_fd_add() descriptor on every iteration). */
#pragma once

#include <glib.h>
#include <stdint.h>

struct esource;
struct esource_watch;

/* revents are epoll's (EPOLLIN, EPOLLHUP, ...). Return G_SOURCE_REMOVE to drop the watch (the
 * descriptor stays open: it is the caller's). */
typedef gboolean (*esource_fn)(int fd, uint32_t revents, void *data);

/* Attached to ctx (NULL: the default context). */
int esource_new(GMainContext *ctx, struct esource **ret);
void esource_free(struct esource *e);
/* Level-triggered, like g_unix_fd_add(). */
int esource_add(struct esource *e, int fd, uint32_t events, esource_fn fn, void *data,
		struct esource_watch **ret);
/* Safe from inside any callback, its own included; NULL is fine. */
void esource_remove(struct esource *e, struct esource_watch *w);
