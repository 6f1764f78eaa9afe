# tests/c: the demo kernel, the demo server (linked against the Go archive
# and against the C reference), the client library, the demo client and
# the C tests.  Included by the top-level Makefile.

TESTS_C		= $(CURDIR)/tests/c
TESTS_C_BUILD	= $(BUILD)/tests-c
TESTS_C_CFLAGS	= $(CFLAGS) -pthread $(TESTS_C_EXTRA)
TESTS_C_HDRS	= $(TESTS_C)/demokern.h $(TESTS_C)/spclient.h \
		  $(CURDIR)/include/rump/rumpuser.h

DEMO_SERVER	= $(BUILD)/demoserver
DEMO_SERVER_REF	= $(BUILD)/demoserver-ref
DEMO_CLIENT	= $(BUILD)/democlient
CTEST_DRIVER	= $(BUILD)/ctest

# The server the C tests run against; override with SERVER=...
SERVER		?= $(DEMO_SERVER)
CTEST_ARGS	?=

.PHONY: ctest ctest-ref run-ref ctest-sanitize

$(TESTS_C_BUILD)/%.o: $(TESTS_C)/%.c $(TESTS_C_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TESTS_C_CFLAGS) -c -o $@ $<

# The C reference is compiled unmodified against a small compatibility
# directory; its own warnings are not ours to fix.  It is never built with
# the sanitizers: its dosend() reads one struct iovec past its array on
# every send, which ASan reports before anything of ours runs.
$(TESTS_C_BUILD)/sysproxy-ref.o: $(REFERENCE) $(wildcard $(TESTS_C)/compat/*/*.h)
	@mkdir -p $(@D)
	@test -n "$(REFERENCE)" || { echo "REFERENCE is not set"; exit 1; }
	$(CC) $(CFLAGS) -pthread -w -I$(TESTS_C)/compat -c -o $@ $(REFERENCE)

$(TESTS_C_BUILD)/getrandom.o: $(TESTS_C)/compat/getrandom.c $(TESTS_C)/compat/rump/rump.h
	@mkdir -p $(@D)
	$(CC) $(TESTS_C_CFLAGS) -I$(TESTS_C)/compat -c -o $@ $<

$(DEMO_SERVER): $(TESTS_C_BUILD)/demoserver.o $(TESTS_C_BUILD)/demokern.o $(ARCHIVE)
	$(CC) $(TESTS_C_CFLAGS) -o $@ $(TESTS_C_BUILD)/demoserver.o \
	    $(TESTS_C_BUILD)/demokern.o $(ARCHIVE) $(LDLIBS_RUMPSP)

$(DEMO_SERVER_REF): $(TESTS_C_BUILD)/demoserver.o $(TESTS_C_BUILD)/demokern.o \
    $(TESTS_C_BUILD)/sysproxy-ref.o $(TESTS_C_BUILD)/getrandom.o
	$(CC) $(TESTS_C_CFLAGS) -o $@ $^ -lpthread

$(DEMO_CLIENT): $(TESTS_C_BUILD)/democlient.o $(TESTS_C_BUILD)/spclient.o
	$(CC) $(TESTS_C_CFLAGS) -o $@ $^ -lpthread

$(CTEST_DRIVER): $(TESTS_C_BUILD)/ctest.o $(TESTS_C_BUILD)/spclient.o
	$(CC) $(TESTS_C_CFLAGS) -o $@ $^ -lpthread

# The server under test is built by whichever rule names it.
ctest: $(CTEST_DRIVER) $(SERVER)
	$(CTEST_DRIVER) $(CTEST_ARGS) $(SERVER)

ctest-ref: $(CTEST_DRIVER) $(DEMO_SERVER_REF)
	$(CTEST_DRIVER) $(CTEST_ARGS) $(DEMO_SERVER_REF)

run-ref: $(DEMO_SERVER_REF) $(DEMO_CLIENT)
	@$(TESTS_C)/run.sh $(DEMO_SERVER_REF) $(DEMO_CLIENT)

# The demo kernel, client library and tests under ASan and UBSan, against
# the reference server (not instrumented itself, see above).
SAN_BUILD	= $(BUILD)/san
SAN_FLAGS	= -fsanitize=address,undefined -fno-omit-frame-pointer

ctest-sanitize:
	$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) \
	    TESTS_C_EXTRA="$(SAN_FLAGS)" ctest-ref
