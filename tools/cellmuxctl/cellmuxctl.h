/* cellmuxctl.h — what the files of cellmuxctl share: options, the seam to the daemon (ipc.c, one
 * call per run), and the output helpers (output.c: JSON, tables, human units). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/ctl_msg.h"

/* Exit statuses, as documented in cellmuxctl(8). */
#define EXIT_OK 0
#define EXIT_REFUSED 1 /* the daemon said no, or could not be reached */
#define EXIT_USAGE 2

struct opts {
	const char *socket;
	bool json;
};

extern const char *program_name;

/* One subcommand per object, each in its own file. argv[0] is the object's name. */
int status_main(int argc, char **argv, const struct opts *o);
int uplink_main(int argc, char **argv, const struct opts *o);
int session_main(int argc, char **argv, const struct opts *o);
int reload_main(int argc, char **argv, const struct opts *o);
int daemon_main(int argc, char **argv, const struct opts *o);

/* Prints "cellmuxctl: <message>" on stderr and returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A NAME argument: non-empty and short enough for the protocol, else a usage error. */
bool name_ok(const char *what, const char *name);

/* ipc.c. A request buffer: requests are a few hundred bytes at most. */
struct request {
	struct ctl_msg m;
	uint32_t buf[1024];
};
/* Starts request cmd; dump asks for every object instead of one. */
void request_start(struct request *q, uint8_t cmd, bool dump);
/* Called for each object the daemon answers with, from a message ctl_msg_parse() accepted. */
typedef int (*object_fn)(const struct ctl_parsed *p, void *data);
/* Sends q to the daemon at o->socket and feeds the answer's objects to fn (may be NULL). Prints
 * why on stderr when it fails (not running, refused, the daemon's own reason). Returns EXIT_OK or
 * EXIT_REFUSED. */
int ipc_call(const struct opts *o, struct request *q, object_fn fn, void *data);


/* output.c: JSON, written as it goes. Keys NULL inside arrays. */
struct json {
	FILE *f;
	int depth;
	bool first;
};
void json_init(struct json *j, FILE *f);
void json_open(struct json *j, const char *key, char bracket);
void json_close(struct json *j, char bracket);
void json_str(struct json *j, const char *key, const char *v);
/* v, or null when v is "" (absent). */
void json_str_or_null(struct json *j, const char *key, const char *v);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_s64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline. */
void json_end(struct json *j);

/* A table printed with aligned columns once all rows are in; cells are copied, made safe for a
 * terminal (control characters become '?'). */
struct table;
struct table *table_new(unsigned ncols, const char *const *headers);
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* A dump printed as a table or a JSON array: what `uplink list` and `session list` share. Each
 * object reaches fn with a struct listing as data; fn adds a row to t or an element to j. */
struct listing {
	const struct opts *o;
	struct json j;
	bool opened; /* JSON array begun: only once the daemon has said yes */
	struct table *t;
};
int listing_run(const struct opts *o, uint8_t cmd, const char *const *headers, unsigned n,
		object_fn fn);
/* "  key         value" of a `show`, the value printed safely. */
void show_field(const char *key, const char *value);

/* Writes s with terminal control characters (C0, DEL, C1, broken UTF-8) replaced by '?'. */
void print_safe(FILE *f, const char *s);
/* "1.2 MiB", "512 B". */
const char *format_bytes(uint64_t n, char *buf, size_t size);
/* "3d 4h", "2h 03m", "5m 12s", "42s", "0.3s". */
const char *format_duration(uint64_t ms, char *buf, size_t size);
