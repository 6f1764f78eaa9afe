# cexport/rules.mk: the C archive librumpsp.a and the header cgo writes for
# it.  mkarchive.sh does the work; see it for why go.o is edited.

READELF	?= readelf
NM	?= nm

ARCHIVE_HEADER = $(BUILD)/librumpsp.h

# Everything that goes into the archive.
ARCHIVE_SRCS = $(wildcard $(CURDIR)/core/*.go $(CURDIR)/hypercall/*.go \
	$(CURDIR)/hypercall/*.[ch] $(CURDIR)/cexport/*.go \
	$(CURDIR)/cexport/*.[ch] $(CURDIR)/include/rump/*.h) \
	$(CURDIR)/go.mod $(wildcard $(CURDIR)/go.sum) \
	$(CURDIR)/cexport/mkarchive.sh

archive: $(ARCHIVE)

$(ARCHIVE_HEADER): $(ARCHIVE)

$(ARCHIVE): $(ARCHIVE_SRCS)
	@mkdir -p $(BUILD)
	GO="$(GO)" OBJCOPY="$(OBJCOPY)" AR="$(AR)" READELF="$(READELF)" \
	    NM="$(NM)" CC="$(CC)" $(CURDIR)/cexport/mkarchive.sh \
	    $(ARCHIVE) $(ARCHIVE_HEADER)

# The archive's own smoke test against a stub kernel (cexport/testdata):
# linked statically, and once more through a shared library made of the
# whole archive, as librumpuser.so would be.  Each runs forking before
# init and serving in a single process.
SMOKE_DIR = $(BUILD)/cexport
SMOKE_CFLAGS = $(CFLAGS) -I$(CURDIR)/cexport/testdata

.PHONY: cexport-test

test: cexport-test

$(SMOKE_DIR)/stubkern.o: cexport/testdata/stubkern.c \
    cexport/testdata/stubkern.h include/rump/rumpuser.h
	@mkdir -p $(SMOKE_DIR)
	$(CC) $(SMOKE_CFLAGS) -fPIC -c -o $@ cexport/testdata/stubkern.c

$(SMOKE_DIR)/smoke.o: cexport/testdata/smoke.c cexport/testdata/stubkern.h \
    include/rump/rumpuser.h
	@mkdir -p $(SMOKE_DIR)
	$(CC) $(SMOKE_CFLAGS) -c -o $@ cexport/testdata/smoke.c

$(SMOKE_DIR)/smoke: $(SMOKE_DIR)/smoke.o $(SMOKE_DIR)/stubkern.o $(ARCHIVE)
	$(CC) -o $@ $(SMOKE_DIR)/smoke.o $(SMOKE_DIR)/stubkern.o $(ARCHIVE) \
	    $(LDLIBS_RUMPSP)

$(SMOKE_DIR)/librumpsp-smoke.so: $(ARCHIVE)
	$(CC) -shared -o $@ -Wl,--whole-archive $(ARCHIVE) \
	    -Wl,--no-whole-archive $(LDLIBS_RUMPSP)

$(SMOKE_DIR)/smoke-so: $(SMOKE_DIR)/smoke.o $(SMOKE_DIR)/stubkern.o \
    $(SMOKE_DIR)/librumpsp-smoke.so
	$(CC) -o $@ $(SMOKE_DIR)/smoke.o $(SMOKE_DIR)/stubkern.o \
	    -L$(SMOKE_DIR) -lrumpsp-smoke -Wl,-rpath,$(SMOKE_DIR) \
	    $(LDLIBS_RUMPSP)

cexport-test: $(SMOKE_DIR)/smoke $(SMOKE_DIR)/smoke-so
	timeout 60 $(SMOKE_DIR)/smoke fork
	timeout 60 $(SMOKE_DIR)/smoke plain
	timeout 60 $(SMOKE_DIR)/smoke env 2>$(SMOKE_DIR)/smoke-env.log
	grep -q '^rumpsp: \[client [1-9]' $(SMOKE_DIR)/smoke-env.log
	timeout 60 $(SMOKE_DIR)/smoke-so fork
	timeout 60 $(SMOKE_DIR)/smoke-so plain
