/* esource.c — an epoll set as one GSource (see esource.h). Watches removed while a batch of
 * events is being dispatched are only marked; they are freed when the batch is done, so an
 * event still queued for them is skipped instead of touching freed memory. */
#include "common/esource.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/macro.h"

#define ESOURCE_BATCH 64

struct esource_watch {
	int fd;
	esource_fn fn;
	void *data;
	bool dead;
	struct esource_watch *next_dead;
};

struct esource {
	GSource source;
	int epfd;
	gpointer tag;
	bool dispatching;
	struct esource_watch *dead;
};

static void reap(struct esource *e)
{
	while (e->dead) {
		struct esource_watch *w = e->dead;

		e->dead = w->next_dead;
		free(w);
	}
}

static gboolean dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	struct esource *e = (struct esource *)src;
	struct epoll_event ev[ESOURCE_BATCH];
	int n;

	/* One batch per dispatch: a flood on some descriptors cannot starve GLib's others. */
	n = epoll_wait(e->epfd, ev, ESOURCE_BATCH, 0);
	e->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct esource_watch *w = ev[i].data.ptr;

		if (w->dead)
			continue;
		if (!w->fn(w->fd, ev[i].events, w->data))
			esource_remove(e, w);
	}
	e->dispatching = false;
	reap(e);
	return G_SOURCE_CONTINUE;
}

static void finalize(GSource *src)
{
	struct esource *e = (struct esource *)src;

	reap(e);
	if (e->epfd >= 0)
		close(e->epfd);
}

static GSourceFuncs esource_funcs = {
	.dispatch = dispatch,
	.finalize = finalize,
};

int esource_new(GMainContext *ctx, struct esource **ret)
{
	struct esource *e = (struct esource *)g_source_new(&esource_funcs, sizeof(*e));

	e->dead = NULL;
	e->dispatching = false;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		int r = negative_errno();

		g_source_unref(&e->source);
		return r;
	}
	e->tag = g_source_add_unix_fd(&e->source, e->epfd, G_IO_IN);
	g_source_set_name(&e->source, "esource");
	g_source_attach(&e->source, ctx);
	*ret = e;
	return 0;
}

void esource_free(struct esource *e)
{
	if (!e)
		return;
	g_source_destroy(&e->source);
	g_source_unref(&e->source);
}

int esource_add(struct esource *e, int fd, uint32_t events, esource_fn fn, void *data,
		struct esource_watch **ret)
{
	struct esource_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->data = data;
	ev.data.ptr = w;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = negative_errno();

		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void esource_remove(struct esource *e, struct esource_watch *w)
{
	if (!w || w->dead)
		return;
	/* Before the caller closes fd: a closed fd leaves the set only once every dup is gone. */
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
	if (e->dispatching) {
		w->next_dead = e->dead;
		e->dead = w;
	} else {
		free(w);
	}
}
