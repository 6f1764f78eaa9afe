# bench: the benchmarks, rumpsp's demo server side by side with the C
# reference's.  Included by the top-level Makefile after tests/c/rules.mk,
# whose client library and demo servers it uses.
#
#	make bench [BENCH_RUNS=7] [BENCH_MS=500]
#
# prints one line per figure (median [min..max] of the runs) and, last,
# the summary line; it redraws bench/rtt.png.  BENCHMARKS.md explains the
# workloads and records a run.

BENCH		= $(CURDIR)/bench
BENCH_BUILD	= $(BUILD)/bench
BENCH_CLIENT	= $(BENCH_BUILD)/spbench
BENCH_DRIVER	= $(BENCH_BUILD)/driver
BENCH_PLOT	= $(BENCH_BUILD)/rttplot
BENCH_RUNS	?= 7
BENCH_MS	?= 500

$(BENCH_BUILD)/spbench.o: $(BENCH)/spbench.c $(TESTS_C_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TESTS_C_CFLAGS) -I$(TESTS_C) -c -o $@ $(BENCH)/spbench.c

$(BENCH_CLIENT): $(BENCH_BUILD)/spbench.o $(TESTS_C_BUILD)/spclient.o
	$(CC) $(TESTS_C_CFLAGS) -o $@ $^ -lpthread

$(BENCH_DRIVER): $(BENCH)/driver/main.go
	$(GO) build -o $@ ./bench/driver

$(BENCH_PLOT): $(BENCH)/rttplot/main.go
	$(GO) build -o $@ ./bench/rttplot

bench: $(BENCH_CLIENT) $(BENCH_DRIVER) $(BENCH_PLOT) $(DEMO_SERVER) \
    $(DEMO_SERVER_REF)
	@$(BENCH_DRIVER) -rumpsp $(DEMO_SERVER) -ref $(DEMO_SERVER_REF) \
	    -client $(BENCH_CLIENT) -plot $(BENCH_PLOT) -png $(BENCH)/rtt.png \
	    -out $(BENCH_BUILD) -runs $(BENCH_RUNS) -ms $(BENCH_MS)
