# cellmux — build, test and demo. `make` builds into build/; `make check` and `make demo` also
# install missing Debian packages first (tools/deps.sh), so a fresh Debian 12 root needs nothing else.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
# Generated protobuf-c sources are kept: they are inputs of two libraries and of debugging.
.SECONDARY:
.SUFFIXES:

CC      ?= gcc
B       := build
PKGS    := libmnl libnftables glib-2.0 libprotobuf-c libcurl
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
           -fno-strict-aliasing -I. -I$(B)/gen
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(1) 2>/dev/null)

# One static library per folder, as DESIGN.md lays out; main programs stay out of them.
PROTO_SRC  := $(wildcard proto/*.proto)
PROTO_GEN  := $(patsubst proto/%.proto,$(B)/gen/proto/%.pb-c.c,$(PROTO_SRC))
LIB_common := $(wildcard common/*.c)
LIB_netns  := $(wildcard netns/*.c)
LIB_router := $(wildcard router/*.c)
LIB_proto  := $(wildcard proto/*.c) $(PROTO_GEN)
LIB_daemon := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
LIBS       := daemon router netns proto common

obj = $(patsubst %.c,$(B)/obj/%.o,$(patsubst $(B)/%,%,$(1)))
$(foreach l,$(LIBS),$(eval $(B)/lib$(l).a: $(call obj,$(LIB_$(l)))))
$(B)/lib%.a:
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

ALL_LIBS  := $(foreach l,$(LIBS),$(B)/lib$(l).a)
LDLIBS    := $(call PKG_LIBS,$(PKGS))

PROGRAMS  := $(B)/cellmuxd $(B)/cellmux-sim $(B)/workers/cellmux-probe
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

all: $(PROGRAMS) $(UNIT_BIN)

$(B)/cellmuxd: $(call obj,daemon/main.c) $(ALL_LIBS)
$(B)/cellmux-sim: $(call obj,$(wildcard tools/sim/*.c)) $(B)/libnetns.a $(B)/libcommon.a
$(B)/workers/cellmux-probe: $(call obj,tools/workers/probe.c) $(B)/libproto.a $(B)/libcommon.a
$(B)/tests/%: $(call obj,tests/unit/%.c) $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(PROGRAMS):
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Every object waits for generated headers; gcc's -MMD files track the rest.
$(B)/obj/%.o: %.c | $(PROTO_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Wno-error -MMD -MP -c -o $@ $<
$(B)/gen/proto/%.pb-c.c $(B)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(B)/gen $<

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

deps:
	@tools/deps.sh

unit: $(UNIT_BIN)
	@tests/run.sh unit

check: deps
	$(MAKE) all
	@tests/run.sh all

demo: deps
	$(MAKE) all
	@tools/demo.sh

bench: deps
	$(MAKE) all
	@tests/bench/run.sh

clean:
	rm -rf $(B)

.PHONY: all deps unit check demo bench clean
