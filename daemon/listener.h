/* listener.h — the sockets of listen= (socket activation): bound by the daemon in the host
 * namespace, owned by their session, handed to each of its workers with systemd's convention. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"

/* A listening stream socket for l, or a bound datagram socket for udp: (CLOEXEC; TCP with SO_REUSEADDR, backlog SOMAXCONN; a unix
 * socket replaces a stale socket file nobody listens on and is made 0666, like systemd's
 * SocketMode= default). */
int listener_bind(const struct cfg_listen *l, int *ret_fd);
/* Binds every socket of ls into fds[] (ls->n of them); on failure closes what it bound and
 * says which one in *ret_failed. */
int listener_bind_all(const struct cfg_listens *ls, int *fds, size_t *ret_failed);
/* Closes fds and removes unix socket files (fds[i] < 0 is skipped). */
void listener_close_all(const struct cfg_listens *ls, int *fds);
/* Could l be bound now? 0, -EADDRINUSE when another program holds it, or bind()'s error.
 * A socket this process already listens on counts as free: a reload keeps it. */
int listener_probe(const struct cfg_listen *l);
/* "LISTEN_FDNAMES" words: "tcp-PORT", "udp-PORT" or "unix", systemd's FileDescriptorName= spelling. */
void listener_fdname(const struct cfg_listen *l, char *buf, size_t len);
