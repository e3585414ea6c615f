/* ctl_msg.h — building and checking the admin protocol's messages (proto/ctl.h) on libmnl, and the
 * mapping between its objects' attributes and plain structs, shared by cellmuxd and cellmuxctl. */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ctl.h"

/* A message being built in a caller's buffer. Running out of room is sticky: every later put is a
 * no-op and `error` stays -EMSGSIZE, so a builder checks once, at the end. */
struct ctl_msg {
	struct nlmsghdr *nlh;
	size_t size;
	int error;
};

/* Starts a CTL_NLMSG_TYPE message with its ctl_hdr in buf (4-byte aligned, size bytes). */
void ctl_msg_start(struct ctl_msg *m, void *buf, size_t size, uint16_t flags, uint32_t seq,
		   uint8_t cmd);
void ctl_msg_put_u8(struct ctl_msg *m, uint16_t type, uint8_t v);
void ctl_msg_put_u32(struct ctl_msg *m, uint16_t type, uint32_t v);
void ctl_msg_put_s32(struct ctl_msg *m, uint16_t type, int32_t v);
void ctl_msg_put_u64(struct ctl_msg *m, uint16_t type, uint64_t v);
/* At most size - 1 bytes of s (a fixed array need not be terminated), then a NUL. */
void ctl_msg_put_strn(struct ctl_msg *m, uint16_t type, const char *s, size_t size);
void ctl_msg_put_str(struct ctl_msg *m, uint16_t type, const char *s);
/* NULL once out of room; ctl_msg_nest_end() takes that NULL. */
struct nlattr *ctl_msg_nest_start(struct ctl_msg *m, uint16_t type);
void ctl_msg_nest_end(struct ctl_msg *m, struct nlattr *nest);
/* 0 and the message's length, or the sticky error. */
int ctl_msg_finish(const struct ctl_msg *m, size_t *ret_len);

/* NLMSG_ERROR answering req (NULL: a request that could not be read, seq 0) with error (0: ack,
 * or -errno) and, when msg is not NULL or empty, an NLMSGERR_ATTR_MSG (cut to CTL_ERRMSG_SIZE). */
int ctl_msg_error(void *buf, size_t size, const struct nlmsghdr *req, int error, const char *msg,
		  size_t *ret_len);
/* NLMSG_DONE ending a dump answering req. */
int ctl_msg_done(void *buf, size_t size, const struct nlmsghdr *req, size_t *ret_len);

enum ctl_dir {
	CTL_DIR_REQUEST, /* cellmuxd reading: strict, unknown attributes refused */
	CTL_DIR_ANSWER,  /* cellmuxctl reading: unknown attribute types skipped */
};

/* Why a message was refused, for the NLMSGERR_ATTR_MSG of the answer. */
struct ctl_err {
	char msg[CTL_ERRMSG_SIZE];
};

/* Room for the attributes of any object nest (status, uplink, session). */
#define CTL_OBJ_TB_SIZE 48

struct ctl_parsed {
	const struct nlmsghdr *nlh;
	uint8_t cmd;
	bool dump;
	const struct nlattr *tb[CTL_A_MAX + 1];
	/* The command's object nest (cmd_policy obj for requests, answer for answers), split. */
	const struct nlattr *obj;
	const struct nlattr *otb[CTL_OBJ_TB_SIZE];
};

/* Checks one CTL_NLMSG_TYPE message, buf holding exactly it (a request packet, or one message of
 * an answer packet): framing, header, command, every attribute against the policy, nests
 * recursively, and what the command takes. buf must be 4-byte aligned. Returns -EBADMSG for broken
 * framing (lengths, truncation, trailing bytes), -EPROTO for another nlmsg_type,
 * -EPROTONOSUPPORT for another CTL_VERSION, -EOPNOTSUPP for an unknown command or attribute or a
 * mode the command lacks (dump/do), -EINVAL for a well-framed message that breaks a rule (wrong
 * size or range, bad string, repeated or missing or extra attribute). err (may be NULL) says
 * what. *ret points into buf and is written only on success. */
int ctl_msg_parse(const void *buf, size_t len, enum ctl_dir dir, struct ctl_parsed *ret,
		  struct ctl_err *err);

/* An NLMSG_ERROR message, nlh->nlmsg_len already checked against the packet: its error (0 for an
 * ack, else -errno) and its NLMSGERR_ATTR_MSG (pointing into nlh, NULL if none). -EBADMSG if it is
 * malformed. */
int ctl_msg_parse_error(const struct nlmsghdr *nlh, int *ret_error, const char **ret_msg);

/* The attributes of a nest ctl_msg_parse() has validated, by type; types above max are skipped. */
void ctl_nest_table(const struct nlattr *nest, const struct nlattr **tb, uint16_t max);
uint8_t ctl_attr_u8(const struct nlattr *a);
uint32_t ctl_attr_u32(const struct nlattr *a);
int32_t ctl_attr_s32(const struct nlattr *a);
uint64_t ctl_attr_u64(const struct nlattr *a);
const char *ctl_attr_str(const struct nlattr *a);

/* The objects, as both sides hold them. Strings are NUL-terminated; "" is sent as absent. */
struct ctl_status_info {
	char version[CTL_SHORT_SIZE];
	uint32_t pid;
	uint64_t uptime_ms;
	char config[CTL_PATH_SIZE];
	uint32_t uplinks, uplinks_up;
	uint32_t sessions, sessions_running;
	bool have_backend; /* a [backend] is configured */
	bool backend_up;
	uint32_t backend_outbox, backend_inbox, backend_reconnects;
};

struct ctl_counters {
	bool valid; /* false: nothing counted, sent as absent */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};

struct ctl_uplink_info {
	char name[CTL_NAME_SIZE];
	char driver[CTL_SHORT_SIZE];
	uint8_t state; /* enum ctl_uplink_state */
	char interface[CTL_SHORT_SIZE];
	char device[CTL_NAME_SIZE]; /* qmi: the control port; "" otherwise */
	char netns[CTL_NAME_SIZE];
	char addresses[CTL_ADDRS_MAX][CTL_ADDR_SIZE];
	size_t n_addresses;
	uint32_t sessions, capacity;
	struct ctl_counters counters;
	bool have_quota;
	bool quota_reached;
	uint64_t quota_bytes, quota_used_bytes;
	uint32_t reconnects;
	bool have_signal;
	int32_t signal_dbm;
	char operator_name[CTL_NAME_SIZE]; /* "": unknown */
	char rat[CTL_SHORT_SIZE];          /* "": unknown */
	/* Sessions removed from the uplink: their final counters summed (valid: a store has them). */
	uint32_t removed_sessions;
	struct ctl_counters removed;
	char health[CTL_SHORT_SIZE];        /* "": an older daemon */
	char health_reason[CTL_TEXT_SIZE];
	char gateways[2][CTL_ADDR_SIZE];
	size_t n_gateways;
	char dns[3][CTL_ADDR_SIZE];
	size_t n_dns;
	char last_error[CTL_TEXT_SIZE]; /* "": none */
	uint64_t last_error_at_ms;
	char recovery[CTL_TEXT_SIZE];   /* "": not failed */
	char recovery_last[CTL_SHORT_SIZE];
	uint32_t recoveries_reconnect, recoveries_reset;
};

/* A worker's last Status: what it sent (unix_time_ms 0: no time of its own), and when. */
struct ctl_wstatus_info {
	struct worker_status w;
	uint64_t at_ms;
};

struct ctl_sandbox_info {
	uint32_t pid;
	bool worker; /* false: the session's init was read, it has no worker yet */
	uint32_t ns_pid;
	uint32_t uid, euid, gid, egid;
	uint64_t pidns_inode;
	bool pidns_private;
	uint8_t seccomp; /* 0 disabled, 1 strict, 2 filter */
	bool have_seccomp_filters;
	uint32_t seccomp_filters;
	bool no_new_privs;
	uint64_t cap_eff, cap_prm, cap_bnd, cap_amb;
};

struct ctl_session_info {
	char name[CTL_NAME_SIZE];
	char profile[CTL_NAME_SIZE];
	char uplink[CTL_NAME_SIZE]; /* "": not placed */
	uint8_t state;              /* enum ctl_session_state */
	uint32_t pid;               /* 0: no worker; uptime_ms is then not sent */
	uint32_t restarts;
	uint64_t uptime_ms;
	struct ctl_counters counters;
	bool have_quota;
	bool quota_reached;
	uint64_t quota_bytes, quota_used_bytes;
	bool have_status;
	struct ctl_wstatus_info status;
	bool have_sandbox;
	struct ctl_sandbox_info sandbox;
	/* Cgroup use and limits; a *_max is absent (have_* false) when unlimited. */
	bool have_memory, have_memory_max;
	uint64_t memory_bytes, memory_max_bytes, oom_kills; /* oom_kills travels with memory */
	bool have_tasks, have_tasks_max;
	uint64_t tasks, tasks_max;
	bool have_cpu_weight;
	uint32_t moves;
	char wait_reason[CTL_TEXT_SIZE]; /* "": not waiting */
	uint32_t cpu_weight;
};

/* Each puts the object's nest (CTL_A_STATUS, CTL_A_UPLINK, CTL_A_SESSION) into m. */
void ctl_status_encode(struct ctl_msg *m, const struct ctl_status_info *s);
void ctl_uplink_encode(struct ctl_msg *m, const struct ctl_uplink_info *u);
void ctl_session_encode(struct ctl_msg *m, const struct ctl_session_info *s);
/* From a nest ctl_msg_parse() validated; absent attributes leave zeros and "". */
void ctl_status_decode(const struct nlattr *nest, struct ctl_status_info *ret);
void ctl_uplink_decode(const struct nlattr *nest, struct ctl_uplink_info *ret);
void ctl_session_decode(const struct nlattr *nest, struct ctl_session_info *ret);

/* Names as cellmuxctl and the JSON schema spell them; "unknown" for a value this build lacks. */
const char *ctl_cmd_to_string(unsigned cmd);
const char *ctl_uplink_state_to_string(unsigned st);
const char *ctl_session_state_to_string(unsigned st);
const char *ctl_uplink_action_to_string(unsigned a);
/* The action, or -EINVAL. */
int ctl_uplink_action_from_string(const char *s);
