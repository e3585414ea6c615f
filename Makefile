# cellmux — build, test and demo. `make` builds into build/; `make check` and `make demo` also
# install missing Debian packages first (tools/deps.sh), so a fresh Debian 12 root needs nothing else.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
# Generated protobuf-c sources are kept: they are inputs of two libraries and of debugging.
.SECONDARY:
.SUFFIXES:

CC      ?= gcc
B       := build
# Cross builds: CROSS_COMPILE=aarch64-linux-gnu- (Debian's cross toolchain, make deps-cross), or
# just CC=aarch64-linux-gnu-gcc, names the compiler, binutils and pkg-config; anything named on
# the command line or in the environment stays as given. Build into a tree of its own:
# make B=build-arm64 CROSS_COMPILE=aarch64-linux-gnu- (make cross does that).
ifeq ($(origin CROSS_COMPILE),undefined)
CROSS_COMPILE := $(patsubst %gcc,%,$(filter %-gcc,$(CC)))
endif
ifneq ($(CROSS_COMPILE),)
$(foreach t,CC:gcc AR:ar LD:ld,$(if $(filter default undefined,$(origin $(word 1,$(subst :, ,$(t))))),\
	$(eval $(word 1,$(subst :, ,$(t))) := $(CROSS_COMPILE)$(word 2,$(subst :, ,$(t))))))
endif
OBJCOPY    ?= $(CROSS_COMPILE)objcopy
PKG_CONFIG ?= $(CROSS_COMPILE)pkg-config
# The machine the programs are for, as a GNU triplet; a native build is one for this machine,
# the only kind that may take vmlinux.h from the running kernel or run what it built.
TARGET  := $(shell $(CC) -dumpmachine)
NATIVE  := $(filter $(shell uname -m)-%,$(TARGET))
# -dev packages that cannot be co-installed for the target sit in deps-cross.sh's private
# sysroot (its .pc files point into it).
CROSS_ROOT ?= /var/cache/cellmux-cross/root
CROSS_PC   := $(if $(NATIVE),,$(wildcard $(CROSS_ROOT)/usr/lib/$(TARGET)/pkgconfig))
PKG_CONFIG_RUN := $(if $(CROSS_PC),PKG_CONFIG_PATH=$(CROSS_PC)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH)) )$(PKG_CONFIG)
PKGS    := libmnl libnftables glib-2.0 libprotobuf-c libcurl sqlite3 libwebsockets openssl libbpf \
           qmi-glib libseccomp
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
           -fno-strict-aliasing -I. -I$(B)/gen
PKG_CFLAGS := $(shell $(PKG_CONFIG_RUN) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG_RUN) --libs $(1) 2>/dev/null)

# One static library per folder, as DESIGN.md lays out; main programs stay out of them.
PROTO_SRC  := $(wildcard proto/*.proto)
PROTO_GEN  := $(patsubst proto/%.proto,$(B)/gen/proto/%.pb-c.c,$(PROTO_SRC))
LIB_common := $(wildcard common/*.c)
LIB_netns  := $(wildcard netns/*.c)
LIB_router := $(wildcard router/*.c)
LIB_proto  := $(wildcard proto/*.c) $(PROTO_GEN)
LIB_daemon := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
# sandbox/: how a worker is started and confined (clone, namespaces, mounts, credentials,
# seccomp, limits); kernel-touching, no daemon state.
LIB_sandbox := $(filter-out sandbox/init.c,$(wildcard sandbox/*.c))
# bpf/ builds libacct.a: "libbpf.a" would read as the real libbpf.
LIB_acct   := $(filter-out %.bpf.c,$(wildcard bpf/*.c))
LIBS       := daemon sandbox acct router netns proto common

# eBPF, the libbpf-bootstrap way: bpf/*.bpf.c -> clang -target bpfel -> bpftool gen object ->
# bpftool gen skeleton. vmlinux.h comes from the running kernel's BTF in a native build;
# bpf/vmlinux-fallback.h (trimmed to what the programs use, generic types only) in a cross build
# or when the build machine has none. The byte order and __TARGET_ARCH_* are the target's
# (bpf_tracing.h would need the latter; "bpf" alone means the build machine's byte order).
CLANG       ?= clang
BPFTOOL     ?= bpftool
VMLINUX_BTF ?= $(if $(NATIVE),$(wildcard /sys/kernel/btf/vmlinux))
BPF_SRC     := $(wildcard bpf/*.bpf.c)
BPF_SKEL    := $(patsubst bpf/%.bpf.c,$(B)/gen/bpf/%.skel.h,$(BPF_SRC))
BPF_ENDIAN  := $(if $(filter s390% powerpc-% powerpc64-% mips-% mips64-% sparc% aarch64_be-% \
		armeb-%,$(TARGET)),bpfeb,bpfel)
BPF_ARCH    := $(patsubst x86_64,x86,$(patsubst i%86,x86,$(patsubst aarch64,arm64,\
		$(patsubst riscv64,riscv,$(patsubst powerpc%,powerpc,$(firstword $(subst -, ,$(TARGET))))))))
# BPF_NO_PRESERVE_ACCESS_INDEX: no CO-RE relocations. The programs touch only __sk_buff, a UAPI
# context whose offsets are fixed and which the verifier rewrites itself: relocating it bought
# nothing and made libbpf read and parse the kernel's BTF (several MB) at every daemon start
# (119 ms on the 2-vCPU test VM), and made kernel BTF a requirement.
BPF_CFLAGS  := -g -O2 -target $(BPF_ENDIAN) -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
	       -DBPF_NO_PRESERVE_ACCESS_INDEX -I. -I$(B)/gen/bpf

obj = $(patsubst %.c,$(B)/obj/%.o,$(patsubst $(B)/%,%,$(1)))
$(foreach l,$(LIBS),$(eval $(B)/lib$(l).a: $(call obj,$(LIB_$(l)))))
$(B)/lib%.a:
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

ALL_LIBS  := $(foreach l,$(LIBS),$(B)/lib$(l).a)

# worker/ builds libcellmux-worker.a for other people's programs: the library, the framing of
# worker.proto and its generated code, linked into one object whose only global symbols are
# cmxw_*, so it clashes with nothing in a program (nor with libproto.a). Needs libprotobuf-c.
LIB_worker := worker/cmxw.c proto/worker_msg.c proto/utf8.c proto/pbc.c $(B)/gen/proto/worker.pb-c.c
$(B)/obj/worker/cellmux-worker.o: $(call obj,$(LIB_worker))
	$(LD) -r -o $@.tmp $^
	$(OBJCOPY) -w --keep-global-symbol='cmxw_*' $@.tmp $@
	rm -f $@.tmp
$(B)/libcellmux-worker.a: $(B)/obj/worker/cellmux-worker.o
	rm -f $@ && $(AR) rcs $@ $^
LDLIBS    := $(call PKG_LIBS,$(PKGS)) -lelf -lz

PROGRAMS  := $(B)/cellmuxd $(B)/cellmux-init $(B)/cellmux-sim $(B)/workers/cellmux-probe $(B)/cellmuxctl \
             $(B)/workers/cellmux-echo $(B)/workers/cellmux-proxy \
             $(B)/workers/cellmux-worker-example
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
# Programs only the integration tests run; outside build/tests so run.sh never takes them for
# unit tests.
HELPERS   := $(B)/helpers/acct-driver $(B)/helpers/fake-qmi-modem $(B)/helpers/cellmux-hostile \
             $(B)/helpers/start-stamp $(B)/helpers/seccomp-export $(B)/helpers/state-worker \
             $(B)/helpers/static-scrape

# tools/cellmux-backend uses Python code protoc generates from the same schema.
PYGEN     := $(B)/gen/py/backend_pb2.py

all: $(PROGRAMS) $(UNIT_BIN) $(HELPERS) $(PYGEN)

$(PYGEN): proto/backend.proto
	@mkdir -p $(@D)
	protoc -Iproto --python_out=$(@D) $<

$(B)/cellmuxd: $(call obj,daemon/main.c) $(ALL_LIBS)
# Every symbol bound at load (BIND_NOW): the spawn child, between clone3 and exec, must not run
# the dynamic linker's lazy resolver (it takes locks and may allocate); test_spawn_syscalls.sh
# checks the flag.
$(B)/cellmuxd: LDFLAGS += -Wl,-z,now
$(B)/cellmux-sim: $(call obj,$(wildcard tools/sim/*.c)) $(B)/libnetns.a $(B)/libcommon.a
# On libcellmux-worker for the protocol; libproto.a only for worker_msg_text_sanitize().
$(B)/workers/cellmux-probe: $(call obj,tools/workers/probe.c) $(B)/libcellmux-worker.a \
	$(B)/libproto.a $(B)/libcommon.a
# Written against libcellmux-worker only, as a worker of someone else's would be.
$(B)/workers/cellmux-echo: $(call obj,tools/workers/echo.c) $(B)/libcellmux-worker.a
$(B)/workers/cellmux-echo: LDLIBS = $(call PKG_LIBS,libprotobuf-c)
$(B)/workers/cellmux-worker-example: $(call obj,worker/example.c) $(B)/libcellmux-worker.a
$(B)/workers/cellmux-worker-example: LDLIBS = $(call PKG_LIBS,libprotobuf-c)
$(B)/tests/test_worker_lib: $(B)/libcellmux-worker.a
# The proxy needs c-ares (its resolver, in the loop) and libxcrypt, not the daemon's libraries.
$(B)/workers/cellmux-proxy: $(call obj,tools/workers/proxy.c tools/workers/proxy_proto.c)
$(B)/workers/cellmux-proxy: LDLIBS = $(call PKG_LIBS,libcares) -lcrypt
$(B)/helpers/acct-driver: $(call obj,tests/acct-driver.c) $(ALL_LIBS)
$(B)/helpers/start-stamp: $(call obj,tests/helpers/start-stamp.c)
$(B)/helpers/state-worker: $(call obj,tests/helpers/state-worker.c) $(B)/libproto.a $(B)/libcommon.a
$(B)/helpers/fake-qmi-modem: $(call obj,$(wildcard tests/fakeqmi/*.c)) $(B)/libnetns.a \
	$(B)/libcommon.a
# test_hostile.sh's attacker: plain libc, so nothing but the sandbox decides what it may do.
$(B)/helpers/cellmux-hostile: $(call obj,tests/hostile-worker.c)
$(B)/helpers/cellmux-hostile: LDLIBS =
# spawn_bwrap.sh hands bwrap a filter like the sandbox's.
$(B)/helpers/seccomp-export: $(call obj,tests/bench/seccomp-export.c) $(B)/libsandbox.a $(B)/libcommon.a
$(B)/helpers/seccomp-export: LDLIBS = $(call PKG_LIBS,libseccomp)
# loop_cost.sh's floor under a scrape: plain libc.
$(B)/helpers/static-scrape: $(call obj,tests/bench/static-scrape.c)
$(B)/helpers/static-scrape: LDLIBS =
# The fake QMI modem's QMUX codec is unit-tested where it lives, outside the libraries.
$(B)/tests/test_qmux: $(call obj,tests/fakeqmi/qmux.c)
$(B)/tests/test_proxy_proto: $(call obj,tools/workers/proxy_proto.c)
# The session init (sandbox/init.c): plain libc, linked statically, so that what each session
# keeps for its life is a few pages of its own, and its exec loads nothing.
$(B)/cellmux-init: $(call obj,sandbox/init.c)
$(B)/cellmux-init: LDLIBS =
$(B)/cellmux-init: LDFLAGS += -static-pie
$(B)/cellmuxctl: $(call obj,$(wildcard tools/cellmuxctl/*.c)) $(B)/libproto.a $(B)/libcommon.a
# An admin tool on every gateway: it needs libmnl, not the daemon's libraries.
$(B)/cellmuxctl: LDLIBS = $(call PKG_LIBS,libmnl)
$(B)/tests/%: $(call obj,tests/unit/%.c) $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
# It runs the tool it tests.
$(B)/tests/test_cellmuxctl: | $(B)/cellmuxctl
$(PROGRAMS) $(HELPERS):
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every object waits for generated headers; gcc's -MMD files track the rest.
$(B)/obj/%.o: %.c | $(PROTO_GEN) $(BPF_SKEL)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Wno-error -MMD -MP -c -o $@ $<
$(B)/gen/proto/%.pb-c.c $(B)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(B)/gen $<
$(B)/gen/bpf/vmlinux.h: $(or $(VMLINUX_BTF),bpf/vmlinux-fallback.h)
	@mkdir -p $(@D)
	$(if $(VMLINUX_BTF),$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c >$@,cp bpf/vmlinux-fallback.h $@)
$(B)/gen/bpf/%.bpf.o: bpf/%.bpf.c bpf/acct_abi.h $(B)/gen/bpf/vmlinux.h Makefile
	$(CLANG) $(BPF_CFLAGS) -c -o $(@:.bpf.o=.tmp.bpf.o) $<
	$(BPFTOOL) gen object $@ $(@:.bpf.o=.tmp.bpf.o)
$(B)/gen/bpf/%.skel.h: $(B)/gen/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< >$@

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang, ASan and UBSan, apart from the rest:
# each includes the source it fuzzes, so it reaches static functions. `make fuzz` runs until
# stopped (FUZZ_ARGS adds libFuzzer options, e.g. -jobs=4); `make fuzz-smoke` runs for
# FUZZ_SMOKE_SECONDS. New inputs go to build/fuzz/corpus-NAME, seeds stay in tests/fuzz/corpus/.
FUZZ_CC     ?= clang
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_ARGS   ?=
FUZZ_BIN    := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(B)/fuzz/fuzz_ctl_msg: tests/fuzz/fuzz_ctl_msg.c proto/ctl_msg.c proto/ctl_msg.h proto/ctl.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(call PKG_LIBS,libmnl)

# The backend frame decoder fuzzes the generated protobuf-c code along with its validators.
$(B)/fuzz/fuzz_backend_msg: tests/fuzz/fuzz_backend_msg.c proto/backend_msg.c proto/backend_msg.h \
		proto/utf8.c proto/pbc.c $(B)/gen/proto/backend.pb-c.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(B)/gen -o $@ $< proto/utf8.c proto/pbc.c \
		$(B)/gen/proto/backend.pb-c.c \
		$(call PKG_LIBS,libprotobuf-c)

$(B)/fuzz/fuzz_dhcp: tests/fuzz/fuzz_dhcp.c netns/dhcp.c netns/dhcp.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $<

# The worker control socket's decoder, read from a real socket pair as cellmuxd does.
$(B)/fuzz/fuzz_worker_msg: tests/fuzz/fuzz_worker_msg.c proto/worker_msg.c proto/worker_msg.h \
		proto/utf8.c proto/pbc.c $(B)/gen/proto/worker.pb-c.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(B)/gen -o $@ $< proto/utf8.c proto/pbc.c \
		$(B)/gen/proto/worker.pb-c.c \
		$(call PKG_LIBS,libprotobuf-c)

# libcellmux-worker's state machine under packets from a hostile daemon.
$(B)/fuzz/fuzz_worker_lib: tests/fuzz/fuzz_worker_lib.c worker/cmxw.c worker/cellmux-worker.h \
		proto/worker_msg.c proto/worker_msg.h proto/utf8.c proto/pbc.c $(B)/gen/proto/worker.pb-c.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(B)/gen -o $@ $< proto/worker_msg.c proto/utf8.c proto/pbc.c \
		$(B)/gen/proto/worker.pb-c.c \
		$(call PKG_LIBS,libprotobuf-c)

$(B)/fuzz/fuzz_output: tests/fuzz/fuzz_output.c sandbox/output.c sandbox/output.h proto/utf8.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $<

# cellmux-proxy's SOCKS5 and HTTP request parsers, the bytes any client on the listener sends.
$(B)/fuzz/fuzz_proxy_proto: tests/fuzz/fuzz_proxy_proto.c tools/workers/proxy_proto.c \
		tools/workers/proxy_proto.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $<

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; mkdir -p $(B)/fuzz/corpus-$$n; \
		echo "fuzz: $$f (Ctrl-C stops)"; \
		$$f $(FUZZ_ARGS) $(B)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

fuzz-smoke: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; mkdir -p $(B)/fuzz/corpus-$$n; \
		$$f -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1 \
			$(B)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

deps:
	@tools/deps.sh

unit: $(UNIT_BIN)
	@BUILD=$(B) CELLMUX_TEST_WRAPPER="$(TEST_WRAPPER)" tests/run.sh unit

# arm64 from this machine: Debian's cross toolchain and arm64 multiarch -dev packages
# (deps-cross), a tree of its own (cross), its unit tests under qemu-user (unit-cross); the
# arm64 .deb is dpkg-buildpackage -aarm64 (debian/rules). Anything but a native build runs its
# tests through TEST_WRAPPER, which cellmux's tests also put before a program they start.
CROSS_B       ?= build-arm64
CROSS_TRIPLET ?= aarch64-linux-gnu
QEMU          ?= qemu-$(firstword $(subst -, ,$(TARGET)))-static
# No -L /usr/aarch64-linux-gnu: that is libc6-arm64-cross (2.36-8cross1 on Debian 12), older
# than the multiarch libc6:arm64 the programs link against, and a forked child spun forever in
# it (test_cellmuxctl); the multiarch loader, /lib/ld-linux-aarch64.so.1, is found as it is.
TEST_WRAPPER  ?= $(if $(NATIVE),,$(QEMU))
deps-cross:
	@tools/deps-cross.sh

cross:
	$(MAKE) B=$(CROSS_B) CROSS_COMPILE=$(CROSS_TRIPLET)- all

unit-cross:
	$(MAKE) B=$(CROSS_B) CROSS_COMPILE=$(CROSS_TRIPLET)- unit

# Strict: every dependency is installed by now, so a test that can only skip here fails.
check: deps
	$(MAKE) all
	@CELLMUX_CHECK_STRICT=1 tests/run.sh all

demo: deps
	$(MAKE) all
	@tools/demo.sh

bench: deps
	$(MAKE) all
	@tests/bench/run.sh

# --- install: the usual GNU directory variables; DESTDIR for staging (debian/, tests). -------
# Workers, the simulator and the reference backend are programs no one types: libexec.
PREFIX        ?= /usr/local
prefix        ?= $(PREFIX)
exec_prefix   ?= $(prefix)
bindir        ?= $(exec_prefix)/bin
sbindir       ?= $(exec_prefix)/sbin
libexecdir    ?= $(exec_prefix)/libexec
datadir       ?= $(prefix)/share
mandir        ?= $(datadir)/man
sysconfdir    ?= $(if $(filter /usr,$(prefix)),/etc,$(prefix)/etc)
# systemd, udev and sysusers look in /usr/lib (or /lib) only, never under /usr/local.
unitdir       ?= $(prefix)/lib/systemd/system
udevrulesdir  ?= $(prefix)/lib/udev/rules.d
sysusersdir   ?= $(prefix)/lib/sysusers.d
tmpfilesdir   ?= $(prefix)/lib/tmpfiles.d
completiondir ?= $(datadir)/bash-completion/completions
INSTALL       ?= install
PKGLIBEXEC    := $(libexecdir)/cellmux
PKGDATA       := $(datadir)/cellmux
INST_LIBEXEC  := $(B)/cellmux-init $(B)/workers/cellmux-probe $(B)/workers/cellmux-echo $(B)/cellmux-sim \
                 $(B)/helpers/fake-qmi-modem
INST_EXAMPLES := $(wildcard dist/examples/*.conf)
# The unit names its programs by their installed paths.
UNIT_SED      := -e 's|/usr/sbin/|$(sbindir)/|g' -e 's|/usr/bin/|$(bindir)/|g'

install: $(PROGRAMS) $(HELPERS) $(PYGEN)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(PKGLIBEXEC) $(DESTDIR)$(PKGDATA)/py \
		$(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(PKGDATA)/examples \
		$(DESTDIR)$(PKGDATA)/grafana $(DESTDIR)$(sysconfdir)/cellmux $(DESTDIR)$(unitdir) \
		$(DESTDIR)$(udevrulesdir) $(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir) \
		$(DESTDIR)$(completiondir)
	$(INSTALL) -m 755 $(B)/cellmuxd $(DESTDIR)$(sbindir)/cellmuxd
	$(INSTALL) -m 755 $(B)/cellmuxctl $(DESTDIR)$(bindir)/cellmuxctl
	$(INSTALL) -m 755 $(INST_LIBEXEC) $(DESTDIR)$(PKGLIBEXEC)/
	$(INSTALL) -m 755 tools/cellmux-backend $(DESTDIR)$(PKGLIBEXEC)/cellmux-backend
	$(INSTALL) -m 644 $(PYGEN) $(DESTDIR)$(PKGDATA)/py/
	$(INSTALL) -m 644 docs/cellmuxd.8 docs/cellmuxctl.8 $(DESTDIR)$(mandir)/man8/
	$(INSTALL) -m 644 docs/cellmux.conf.5 $(DESTDIR)$(mandir)/man5/
	$(INSTALL) -m 644 dist/cellmux.conf $(DESTDIR)$(sysconfdir)/cellmux/cellmux.conf
	$(INSTALL) -m 644 dist/cellmux.conf $(INST_EXAMPLES) $(DESTDIR)$(PKGDATA)/examples/
	$(INSTALL) -m 644 tools/grafana/cellmux-dashboard.json $(DESTDIR)$(PKGDATA)/grafana/
	sed $(UNIT_SED) dist/cellmux.service >$(DESTDIR)$(unitdir)/cellmux.service
	chmod 644 $(DESTDIR)$(unitdir)/cellmux.service
	$(INSTALL) -m 644 tools/udev/77-cellmux-mm-ignore.rules $(DESTDIR)$(udevrulesdir)/
	$(INSTALL) -m 644 dist/cellmux.sysusers $(DESTDIR)$(sysusersdir)/cellmux.conf
	$(INSTALL) -m 644 dist/cellmux.tmpfiles $(DESTDIR)$(tmpfilesdir)/cellmux.conf
	$(INSTALL) -m 644 tools/cellmuxctl/cellmuxctl.bash-completion \
		$(DESTDIR)$(completiondir)/cellmuxctl

# Removes what install made, and the directories only cellmux uses; an edited config too
# (the package manager, not make, is the one that keeps an operator's changes).
uninstall:
	rm -f $(DESTDIR)$(sbindir)/cellmuxd $(DESTDIR)$(bindir)/cellmuxctl \
		$(DESTDIR)$(mandir)/man8/cellmuxd.8 $(DESTDIR)$(mandir)/man8/cellmuxctl.8 \
		$(DESTDIR)$(mandir)/man5/cellmux.conf.5 $(DESTDIR)$(sysconfdir)/cellmux/cellmux.conf \
		$(DESTDIR)$(unitdir)/cellmux.service \
		$(DESTDIR)$(udevrulesdir)/77-cellmux-mm-ignore.rules \
		$(DESTDIR)$(sysusersdir)/cellmux.conf $(DESTDIR)$(tmpfilesdir)/cellmux.conf \
		$(DESTDIR)$(completiondir)/cellmuxctl
	rm -rf $(DESTDIR)$(PKGLIBEXEC) $(DESTDIR)$(PKGDATA)
	-rmdir $(DESTDIR)$(sysconfdir)/cellmux 2>/dev/null

# The heavy checks of the Debian package (root; they install and purge it): not in `make check`.
# test_nspawn.sh boots a debootstrapped Debian 12 (network, ~240 MB, a few minutes);
# test_arm64.sh cross-builds the arm64 package and runs its unit tests under qemu (~2 min).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
distcheck: deps deps-cross
	rm -rf $(B)/deb
	KEEP_DEB=$(CURDIR)/$(B)/deb tests/dist/test_deb.sh
	tests/dist/test_nspawn.sh $(B)/deb/cellmux_*_$(DEB_ARCH).deb
	KEEP_DEB=$(CURDIR)/$(B)/deb tests/dist/test_arm64.sh

# libcellmux-worker for building workers elsewhere: apart from install, so the service package
# carries no development files.
includedir    ?= $(prefix)/include
libdir        ?= $(exec_prefix)/lib
pkgconfigdir  ?= $(libdir)/pkgconfig
CELLMUX_VERSION := $(shell sed -n 's/^\#define CELLMUX_VERSION "\(.*\)"/\1/p' common/version.h)

$(B)/cellmux-worker.pc: worker/cellmux-worker.pc.in common/version.h
	sed -e 's|@prefix@|$(prefix)|' -e 's|@includedir@|$(includedir)|' -e 's|@libdir@|$(libdir)|' \
		-e 's|@version@|$(CELLMUX_VERSION)|' $< >$@

install-worker-lib: $(B)/libcellmux-worker.a $(B)/cellmux-worker.pc
	$(INSTALL) -d $(DESTDIR)$(includedir) $(DESTDIR)$(libdir) $(DESTDIR)$(pkgconfigdir)
	$(INSTALL) -m 644 worker/cellmux-worker.h $(DESTDIR)$(includedir)/cellmux-worker.h
	$(INSTALL) -m 644 $(B)/libcellmux-worker.a $(DESTDIR)$(libdir)/libcellmux-worker.a
	$(INSTALL) -m 644 $(B)/cellmux-worker.pc $(DESTDIR)$(pkgconfigdir)/cellmux-worker.pc

uninstall-worker-lib:
	rm -f $(DESTDIR)$(includedir)/cellmux-worker.h $(DESTDIR)$(libdir)/libcellmux-worker.a \
		$(DESTDIR)$(pkgconfigdir)/cellmux-worker.pc

.PHONY: install uninstall distcheck install-worker-lib uninstall-worker-lib

clean:
	rm -rf $(B)

.PHONY: all deps unit check demo bench clean fuzz fuzz-smoke deps-cross cross unit-cross
