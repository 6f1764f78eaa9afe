// Command driver runs the sysproxy benchmarks side by side against two
// demo servers, rumpsp's and the C reference's, and prints the figures.
//
// Both servers are started the same way, each on a unix socket in one
// temporary directory, and stay up for every workload but two: the
// one-CPU runs start a pinned pair of their own, and the idle-memory
// measure wants a fresh server per run. Each figure is the median of
// -runs runs, shown with the smallest and largest; the runs of a workload
// alternate between the servers (and which one goes first) so that drift
// of the machine hits both alike. The figures are measured, never judged:
// nothing here passes or fails on speed.
//
// The last line printed is the summary:
//
//	summary: getpid_1=R getpid_32=R copy=R handshake=R floor=F
//
// where each R is rumpsp's figure over the reference's (higher is better;
// copy is the 1 MiB one) and F is rumpsp's single-client getpid round trip
// over the round trip of a bare socket ping-pong of the same sizes, both
// measured with every thread on one CPU (see oneCPU for why).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A server is one demo server binary under test.
type server struct {
	name string // "rumpsp" or "ref"
	bin  string
	url  string // where the long-running instance listens
	cmd  *exec.Cmd
}

// A workload is one benchmark: the spbench arguments after the URL and how
// to turn spbench's output into the figure.
type workload struct {
	name  string
	unit  string
	args  []string
	value func(r result) float64
}

// A result is spbench's "key=value" output line.
type result map[string]float64

// Stats holds the runs of one figure.
type stats []float64

var (
	rumpspBin = flag.String("rumpsp", "build/demoserver", "rumpsp's demo server")
	refBin    = flag.String("ref", "build/demoserver-ref", "the C reference's demo server")
	client    = flag.String("client", "build/bench/spbench", "the benchmark client")
	plotter   = flag.String("plot", "", "the plot program; empty: no plot")
	pngOut    = flag.String("png", "bench/rtt.png", "where the plot goes")
	outDir    = flag.String("out", "build/bench", "where the tables go")
	runs      = flag.Int("runs", 5, "runs per figure")
	ms        = flag.Int("ms", 600, "milliseconds per timed run")
	idleN     = flag.Int("idle", 1000, "idle connections held on rumpsp")
	idleRefN  = flag.Int("idle-ref", 200, "idle connections held on the reference (it holds 255 at most)")
	idleRuns  = flag.Int("idle-runs", 3, "runs of the idle-memory measure")
)

// curve is the number of clients of the round-trip plot.
var curve = []int{1, 2, 4, 8, 16, 32}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	flag.Parse()
	moreFiles()

	dir, err := os.MkdirTemp("", "rumpsp-bench.")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	servers := []*server{
		{name: "rumpsp", bin: *rumpspBin, url: "unix://" + filepath.Join(dir, "rumpsp.sock")},
		{name: "ref", bin: *refBin, url: "unix://" + filepath.Join(dir, "ref.sock")},
	}
	for _, s := range servers {
		if s.cmd, err = start(nil, s.bin, s.url); err != nil {
			stopAll(servers)
			log.Fatal(err)
		}
	}
	err = run(dir, servers)
	stopAll(servers)
	if err != nil {
		log.Fatal(err)
	}
}

// run measures everything and prints the tables and the summary.
func run(dir string, servers []*server) error {
	rate := func(r result) float64 { return r["ops"] / r["secs"] }
	mib := func(r result) float64 { return r["bytes"] / r["secs"] / (1 << 20) }
	ms := strconv.Itoa(*ms)

	var loads []workload
	for _, n := range curve {
		loads = append(loads, workload{
			name: fmt.Sprintf("getpid_%d", n), unit: "calls/s",
			args:  []string{"getpid", "URL", strconv.Itoa(n), ms},
			value: func(r result) float64 { return r["rate"] },
		})
	}
	loads = append(loads,
		workload{"getpid_lib_1", "calls/s", []string{"getpid", "URL", "1", ms, "lib"}, func(r result) float64 { return r["rate"] }},
		workload{"copy_16k", "MiB/s", []string{"copy", "URL", "16384", ms}, mib},
		workload{"copy_1m", "MiB/s", []string{"copy", "URL", "1048576", ms}, mib},
		workload{"handshake", "conn/s", []string{"connect", "URL", ms}, rate},
		workload{"fork", "forks/s", []string{"fork", "URL", ms}, rate},
	)

	fig := map[string]map[string]stats{"rumpsp": {}, "ref": {}}
	for _, w := range loads {
		for i := 0; i < *runs; i++ {
			order := servers
			if i%2 == 1 {
				order = []*server{servers[1], servers[0]}
			}
			for _, s := range order {
				r, err := spbench(w.args, s.url)
				if err != nil {
					return fmt.Errorf("%s on %s: %v", w.name, s.name, err)
				}
				fig[s.name][w.name] = append(fig[s.name][w.name], w.value(r))
			}
		}
		a, b := fig["rumpsp"][w.name], fig["ref"][w.name]
		fmt.Printf("%-13s %-8s rumpsp %s   ref %s   ratio %.2f\n",
			w.name, w.unit, a, b, a.median()/b.median())
	}

	// The floor: no server, both ways of placing the two threads.
	var floor, pinned stats
	for i := 0; i < *runs; i++ {
		for _, pin := range []bool{false, true} {
			args := []string{"floor", ms}
			if pin {
				args = append(args, "pin")
			}
			r, err := spbench(args, "")
			if err != nil {
				return fmt.Errorf("floor: %v", err)
			}
			if pin {
				pinned = append(pinned, rate(r))
			} else {
				floor = append(floor, rate(r))
			}
		}
	}
	fmt.Printf("%-13s %-8s %s   (two threads, one socket pair)\n", "floor", "rt/s", floor)
	fmt.Printf("%-13s %-8s %s   (the same, both on one CPU)\n", "floor_1cpu", "rt/s", pinned)

	// One client on one CPU with the server, as the pinned floor: the
	// same placement, so no wake-up crosses to another CPU.
	var single []workload
	for _, w := range loads {
		switch w.name {
		case "getpid_1", "copy_16k", "copy_1m", "handshake", "fork":
			single = append(single, w)
		}
	}
	if err := oneCPU(dir, single, fig); err != nil {
		return err
	}

	// Round-trip times, in microseconds, for the table and the plot.
	rtt := func(name string, n int) float64 {
		return float64(n) * 1e6 / fig[name][fmt.Sprintf("getpid_%d", n)].median()
	}
	var tsv strings.Builder
	fmt.Fprintf(&tsv, "clients\trumpsp_us\tref_us\n")
	fmt.Printf("round trip (us, median):")
	for _, n := range curve {
		fmt.Printf(" %d: %.1f/%.1f", n, rtt("rumpsp", n), rtt("ref", n))
		fmt.Fprintf(&tsv, "%d\t%.2f\t%.2f\n", n, rtt("rumpsp", n), rtt("ref", n))
	}
	fmt.Printf("  (rumpsp/ref)\n")
	fmt.Printf("floor round trip (us, median): %.1f; on one CPU %.1f\n",
		1e6/floor.median(), 1e6/pinned.median())
	fmt.Printf("getpid_1 on one CPU round trip (us, median): rumpsp %.1f, ref %.1f\n",
		1e6/fig["rumpsp"]["getpid_1_1cpu"].median(), 1e6/fig["ref"]["getpid_1_1cpu"].median())
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	tsvPath := filepath.Join(*outDir, "rtt.tsv")
	if err := os.WriteFile(tsvPath, []byte(tsv.String()), 0o644); err != nil {
		return err
	}
	if *plotter != "" {
		out, err := exec.Command(*plotter, "-in", tsvPath, "-out", *pngOut).CombinedOutput()
		if err != nil {
			return fmt.Errorf("plot: %v: %s", err, out)
		}
	}

	if err := idle(dir); err != nil {
		return err
	}

	ratio := func(name string) float64 {
		return fig["rumpsp"][name].median() / fig["ref"][name].median()
	}
	// The floor is the figure: rumpsp's single-client getpid
	// round trip over the bare ping-pong's, both measured unpinned as
	// every other figure is. On a virtual machine the ping-pong pays a
	// halted CPU's wake-up per message, which a server's spinning
	// threads partly avoid, so the one-CPU ratio is printed as well: it
	// shows what rumpsp costs over the bare socket when wake-ups are
	// cheap.
	unpinned := floor.median() / fig["rumpsp"]["getpid_1"].median()
	fmt.Printf("floor ratio: unpinned %.2f, one CPU %.2f (rumpsp getpid_1 round trip / ping-pong round trip)\n",
		unpinned, pinned.median()/fig["rumpsp"]["getpid_1_1cpu"].median())
	fmt.Printf("summary: getpid_1=%.2f getpid_32=%.2f copy=%.2f handshake=%.2f floor=%.2f\n",
		ratio("getpid_1"), ratio("getpid_32"), ratio("copy_1m"),
		ratio("handshake"), unpinned)
	return nil
}

// oneCPU runs the single-client workloads again with both servers and
// the client confined to the first CPU, on servers started for it. On a
// virtual machine a wake-up that crosses to another, halted, CPU costs
// tens of microseconds and whether it happens depends on where the
// scheduler put the threads; on one CPU the figures are steady and show
// the work each server does. The figures go in fig as NAME_1cpu.
func oneCPU(dir string, loads []workload, fig map[string]map[string]stats) error {
	pin := []string{"taskset", "-c", "0"}
	servers := []*server{
		{name: "rumpsp", bin: *rumpspBin, url: "unix://" + filepath.Join(dir, "rumpsp1.sock")},
		{name: "ref", bin: *refBin, url: "unix://" + filepath.Join(dir, "ref1.sock")},
	}
	defer stopAll(servers)
	var err error
	for _, s := range servers {
		if s.cmd, err = start(pin, s.bin, s.url); err != nil {
			return err
		}
	}
	for _, w := range loads {
		name := w.name + "_1cpu"
		args := append(append([]string(nil), pin...), w.args...)
		for i := 0; i < *runs; i++ {
			order := servers
			if i%2 == 1 {
				order = []*server{servers[1], servers[0]}
			}
			for _, s := range order {
				r, err := spbench(args, s.url)
				if err != nil {
					return fmt.Errorf("%s on %s: %v", name, s.name, err)
				}
				fig[s.name][name] = append(fig[s.name][name], w.value(r))
			}
		}
		a, b := fig["rumpsp"][name], fig["ref"][name]
		fmt.Printf("%-13s %-8s rumpsp %s   ref %s   ratio %.2f\n",
			name, w.unit, a, b, a.median()/b.median())
	}
	return nil
}

// idle measures the server memory each idle connection costs: a fresh
// server, a warm-up, its resident size, then n connections held open
// after their handshake, and the resident size again.
func idle(dir string) error {
	type target struct {
		name, bin string
		n         int
	}
	targets := []target{{"rumpsp", *rumpspBin, *idleN}, {"ref", *refBin, *idleRefN}}
	per := map[string]stats{}
	threads := map[string]stats{}
	for i := 0; i < *idleRuns; i++ {
		order := targets
		if i%2 == 1 {
			order = []target{targets[1], targets[0]}
		}
		for _, t := range order {
			kib, nthr, err := idleOnce(dir, t.bin, t.n)
			if err != nil {
				return fmt.Errorf("idle on %s: %v", t.name, err)
			}
			per[t.name] = append(per[t.name], kib)
			threads[t.name] = append(threads[t.name], nthr)
		}
	}
	for _, t := range targets {
		fmt.Printf("%-13s %-8s %-6s %s at %d connections, server threads %.0f\n",
			"idle_conn", "KiB", t.name, per[t.name], t.n, threads[t.name].median())
	}
	return nil
}

// idleOnce is one run of idle: KiB per connection and the server's threads.
func idleOnce(dir, bin string, n int) (float64, float64, error) {
	url := "unix://" + filepath.Join(dir, "idle.sock")
	cmd, err := start(nil, bin, url)
	if err != nil {
		return 0, 0, err
	}
	defer stop(cmd)

	c := exec.Command(*client, "idle", url, strconv.Itoa(n))
	c.Stderr = os.Stderr
	in, err := c.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	outp, err := c.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := c.Start(); err != nil {
		return 0, 0, err
	}
	defer c.Wait()
	defer in.Close()
	out := bufio.NewReader(outp)

	expect := func(word string) error {
		line, err := out.ReadString('\n')
		if strings.TrimSpace(line) != word {
			return fmt.Errorf("spbench idle said %q (%v), want %q", line, err, word)
		}
		// Let the server finish what it does after its last answer.
		time.Sleep(200 * time.Millisecond)
		return nil
	}
	if err := expect("base"); err != nil {
		return 0, 0, err
	}
	base, _, err := status(cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	io.WriteString(in, "go\n")
	if err := expect("full"); err != nil {
		return 0, 0, err
	}
	full, nthr, err := status(cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	return (full - base) / float64(n), nthr, nil
}

// status reads a process's resident size in KiB and its thread count.
func status(pid int) (float64, float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var rss, thr float64 = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseFloat(f[1], 64)
		case "Threads:":
			thr, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	if rss < 0 || thr < 0 {
		return 0, 0, errors.New("no VmRSS or Threads in /proc status")
	}
	return rss, thr, nil
}

// spbench runs the client once; "URL" in args becomes url. Args that
// start with "taskset" run the client under taskset.
func spbench(args []string, url string) (result, error) {
	var a []string
	for _, s := range args {
		if s == "URL" {
			s = url
		}
		a = append(a, s)
	}
	bin := *client
	if len(a) > 0 && a[0] == "taskset" {
		a = append(append(a[1:3:3], bin), a[3:]...)
		bin = "taskset"
	}
	ctx, cancel := context.WithTimeout(context.Background(),
		time.Duration(*ms)*time.Millisecond+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, a...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("spbench %s: %v", strings.Join(a, " "), err)
	}
	r := result{}
	for _, kv := range strings.Fields(string(out)) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if r[k], err = strconv.ParseFloat(v, 64); err != nil {
			return nil, fmt.Errorf("spbench said %q", out)
		}
	}
	if r["secs"] <= 0 {
		return nil, fmt.Errorf("spbench said %q", out)
	}
	return r, nil
}

// start runs a demo server on url, after the command words pre if any,
// and waits for its socket.
func start(pre []string, bin, url string) (*exec.Cmd, error) {
	path := strings.TrimPrefix(url, "unix://")
	os.Remove(path)
	argv := append(append([]string(nil), pre...), bin, url)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Process.Wait()
		close(exited)
	}()
	for i := 0; i < 250; i++ {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return cmd, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before listening", bin)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop(cmd)
	return nil, fmt.Errorf("%s: no socket after 5 s", bin)
}

// stop ends a server this program started.
func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		cmd.Process.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
	}
}

func stopAll(servers []*server) {
	for _, s := range servers {
		if s.cmd != nil {
			stop(s.cmd)
		}
	}
}

// moreFiles raises the descriptor limit to the hard limit, for this
// process and (because it is set explicitly) for the processes it starts:
// the idle measure holds a thousand connections.
func moreFiles() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	rl.Cur = rl.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}

func (s stats) sorted() []float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	return c
}

// median is the middle run (the mean of the two middle ones if even).
func (s stats) median() float64 {
	c := s.sorted()
	if len(c) == 0 {
		return 0
	}
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// String shows the median with the range of the runs.
func (s stats) String() string {
	c := s.sorted()
	if len(c) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s [%s..%s]", num(s.median()), num(c[0]), num(c[len(c)-1]))
}

// num prints a figure with three or so significant digits.
func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
