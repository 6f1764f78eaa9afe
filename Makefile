# rumpsp: top-level build. Each part keeps its rules in its own rules.mk;
# this file holds the shared variables and the user-facing targets.

GO	?= go
CC	?= gcc
AR	?= ar
OBJCOPY	?= objcopy
BUILD	?= $(CURDIR)/build
PREFIX	?= /usr/local
REFERENCE ?= $(wildcard $(CURDIR)/../shared/reference/sysproxy.c)

CFLAGS	?= -O2 -g
CFLAGS	+= -Wall -Wextra -Wno-unused-parameter -I$(CURDIR)/include
LDLIBS_RUMPSP = -lpthread -ldl

# The archive and the header cgo generates for it.
ARCHIVE	= $(BUILD)/librumpsp.a

.PHONY: all archive run test gotest ctest bench check-abi install clean fuzz

all: archive

include cexport/rules.mk
include tests/c/rules.mk
include bench/rules.mk
include link/rules.mk
include tests/attack/rules.mk

# The main job: the archive serving the demo kernel to the demo client on
# a unix socket in a fresh temporary directory.
run: $(ARCHIVE) $(DEMO_SERVER) $(DEMO_CLIENT)
	@$(CURDIR)/tests/c/run.sh $(DEMO_SERVER) $(DEMO_CLIENT)

# The attack suite needs the demo server; attack-test builds it and runs it.
GO_PKGS = $$($(GO) list ./... | grep -v /tests/attack)

gotest:
	gofmt -l . | tee /dev/stderr | (! read x)
	$(GO) vet ./...
	$(GO) test -race -count=1 $(GO_PKGS)

test: gotest ctest link-test check-abi attack-test

clean:
	rm -rf $(BUILD)

# A bounded fuzzing pass over the frame decoder and a live connection.
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzHeader$$' -fuzztime $(FUZZTIME) ./core
	$(GO) test -run '^$$' -fuzz '^FuzzConn$$' -fuzztime $(FUZZTIME) ./core
