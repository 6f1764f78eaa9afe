package attack

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvDemoServer names the server binary to attack. make sets it, so that a
// missing binary is an error there; a plain "go test ./..." on a fresh
// checkout skips these tests instead.
const EnvDemoServer = "RUMPSP_DEMOSERVER"

// idleWorkers is rumpsp_idleworker, the idle goroutines the server keeps
// for reuse (README): they are the only goroutines allowed to outlive the
// clients that made them.
const idleWorkers = 16

// settleTimeout bounds how long a test waits for the server to return to
// its baseline after the clients are gone; teardown is asynchronous and
// preforks of lost clients live up to the handshake timeout more.
const settleTimeout = 60 * time.Second

// demoServerPath returns the demo server binary to attack.
func demoServerPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(EnvDemoServer); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v (build it with make attack-test)",
				EnvDemoServer, p, err)
		}
		return p
	}
	p, err := filepath.Abs("../../build/demoserver")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is not built; run \"make attack-test\" or set %s",
			p, EnvDemoServer)
	}
	return p
}

// server is a demo server process under attack, serving on a unix socket
// in a temporary directory, with its debug log captured line by line.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	sock string
	pid  int

	// startGoroutines is the goroutine count the server logged when it
	// started listening, before any client.
	startGoroutines int

	mu     sync.Mutex
	lines  []string      // guarded by mu; the debug log so far
	notify chan struct{} // guarded by mu; closed when lines grows

	done    chan struct{} // closed once the process has exited
	exitErr error         // set before done is closed
	killed  bool          // guarded by mu; we stopped it on purpose
}

// startServer runs bin (the Go demo server unless a test says otherwise)
// with RUMPSP_DEBUG=1 and the given extra environment, and waits until it
// listens. The server is killed at the end of the test; if it died on its
// own before that, the test fails.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	return startBinary(t, demoServerPath(t), true, env...)
}

// startBinary runs bin as startServer does. Unless logs, the server
// prints no debug log (the C reference) and is ready once it accepts a
// connection.
func startBinary(t *testing.T, bin string, logs bool,
	env ...string) *server {
	t.Helper()
	s := &server{
		t:      t,
		sock:   filepath.Join(t.TempDir(), "sock"),
		notify: make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "unix://"+s.sock)
	// The caller's RUMPSP_* settings must not leak into a test that
	// relies on the defaults.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RUMPSP_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env, "RUMPSP_DEBUG=1")
	s.cmd.Env = append(s.cmd.Env, env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = s.cmd.Process.Pid
	go s.readLog(bufio.NewReader(stderr))
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)

	if !logs {
		for range 400 {
			if c, err := dial(s.sock); err == nil {
				c.close()
				return s
			}
			sleep()
		}
		t.Fatalf("%s does not accept connections", bin)
	}
	i, err := s.waitLine(0, "listening on", 30*time.Second)
	if err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	if m := goroutinesRE.FindStringSubmatch(s.line(i)); m != nil {
		s.startGoroutines, _ = strconv.Atoi(m[1])
	}
	return s
}

// readLog collects the server's stderr. It must keep reading even when no
// test looks: a full pipe would block the server's logging.
func (s *server) readLog(r *bufio.Reader) {
	for {
		l, err := r.ReadString('\n')
		if l != "" {
			s.mu.Lock()
			s.lines = append(s.lines, strings.TrimRight(l, "\n"))
			close(s.notify)
			s.notify = make(chan struct{})
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// stop kills the server, failing the test if it had died by itself.
func (s *server) stop() {
	select {
	case <-s.done:
		s.mu.Lock()
		killed := s.killed
		s.mu.Unlock()
		if !killed {
			s.t.Errorf("server exited during the test: %v",
				s.exitErr)
		}
	default:
		s.mu.Lock()
		s.killed = true
		s.mu.Unlock()
		s.cmd.Process.Kill()
		<-s.done
	}
	if s.t.Failed() {
		s.mu.Lock()
		tail := s.lines[max(0, len(s.lines)-40):]
		s.mu.Unlock()
		s.t.Logf("last lines of the server log:\n%s",
			strings.Join(tail, "\n"))
	}
}

// expectDeath waits for the server to exit by itself, which is what the
// test wanted to show.
func (s *server) expectDeath(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
		s.mu.Lock()
		s.killed = true
		s.mu.Unlock()
		t.Logf("server exited as expected: %v", s.exitErr)
	case <-time.After(20 * time.Second):
		t.Errorf("server survived")
	}
}

// exited reports whether the server process is gone.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// mark returns the number of log lines so far, to search after it.
func (s *server) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// line returns log line i.
func (s *server) line(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines[i]
}

// waitLine waits until a log line at index from or later contains sub,
// and returns its index.
func (s *server) waitLine(from int, sub string, d time.Duration) (int,
	error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for i := from; i < len(s.lines); i++ {
			if strings.Contains(s.lines[i], sub) {
				s.mu.Unlock()
				return i, nil
			}
		}
		from = max(from, len(s.lines))
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.done:
			// Let readLog drain what the process wrote last.
			time.Sleep(100 * time.Millisecond)
			if s.countSince(from, sub) > 0 {
				continue
			}
			return 0, fmt.Errorf("server exited (%v) before "+
				"logging %q", s.exitErr, sub)
		case <-timer.C:
			return 0, fmt.Errorf("no log line %q within %v", sub, d)
		}
	}
}

// countSince counts the log lines from index from on that contain sub.
func (s *server) countSince(from int, sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines[min(from, len(s.lines)):] {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// expectLog fails the test unless a line containing sub appears after
// index from.
func (s *server) expectLog(t *testing.T, from int, sub string) {
	t.Helper()
	if _, err := s.waitLine(from, sub, 20*time.Second); err != nil {
		t.Errorf("expected a debug line: %v", err)
	}
}

// dial connects a new client and reads the banner.
func (s *server) dial(t testing.TB) *client {
	t.Helper()
	c, err := dial(s.sock)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(c.close)
	return c
}

// guest connects a new client and does the guest handshake.
func (s *server) guest(t testing.TB, name string) *client {
	t.Helper()
	c, err := dialGuest(s.sock, name)
	if err != nil {
		t.Fatalf("guest %q: %v", name, err)
	}
	t.Cleanup(c.close)
	return c
}

// procCount counts the entries of /proc/PID/<dir>.
func (s *server) procCount(dir string) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/%s", s.pid, dir))
	if err != nil {
		s.t.Errorf("reading /proc/%d/%s: %v", s.pid, dir, err)
		return -1
	}
	return len(es)
}

// threads is the number of OS threads of the server.
func (s *server) threads() int { return s.procCount("task") }

// fds is the number of open descriptors of the server.
func (s *server) fds() int { return s.procCount("fd") }

// rssKB is the server's resident set size in kB.
func (s *server) rssKB() int { return s.statusKB("VmRSS") }

// statusKB reads a kB field of /proc/PID/status.
func (s *server) statusKB(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		s.t.Errorf("reading status: %v", err)
		return -1
	}
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		s.t.Errorf("no %s in /proc/%d/status", field, s.pid)
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

var goroutinesRE = regexp.MustCompile(`; (\d+) goroutines`)

// snapshot is what a leak check compares, taken when no client is
// connected.
type snapshot struct {
	goroutines int // logged by the server when its last client left
	threads    int // /proc/PID/task
	fds        int // /proc/PID/fd
	procs      int // demo kernel processes, pid 1 included (syscall 501)
}

// String formats the snapshot for failure messages.
func (n snapshot) String() string {
	return fmt.Sprintf("%d goroutines, %d threads, %d fds, %d processes",
		n.goroutines, n.threads, n.fds, n.procs)
}

// measure takes a snapshot: a probe client counts the kernel's processes
// (less itself), leaves, and once the server logs that no client is left
// the goroutine count of that line, the threads and the fds are read.
// The probe is connected while the mark is taken, so the "no clients"
// line found after it is logged after the probe is gone.
func (s *server) measure() (snapshot, error) {
	var n snapshot
	p, err := dialGuest(s.sock, "probe")
	if err != nil {
		return n, err
	}
	np, err := p.ok(sysNproc)
	if err != nil {
		p.close()
		return n, err
	}
	n.procs = int(np) - 1
	from := s.mark()
	p.close()
	i, err := s.waitLine(from, "no clients;", settleTimeout)
	if err != nil {
		return n, err
	}
	m := goroutinesRE.FindStringSubmatch(s.line(i))
	if m == nil {
		return n, fmt.Errorf("no goroutine count in %q", s.line(i))
	}
	n.goroutines, _ = strconv.Atoi(m[1])
	n.threads = s.threads()
	n.fds = s.fds()
	return n, nil
}

// baseline is the state of a server that has served one client: the
// state later leak checks must come back to.
func (s *server) baseline(t *testing.T) snapshot {
	t.Helper()
	n, err := s.measure()
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	t.Logf("baseline: %v (at start: %d goroutines)", n,
		s.startGoroutines)
	return n
}

// kernelCallers is the number of the demo kernel's own threads that call
// into the server from C (its two I/O threads and its signal thread, see
// demokern.c). The Go runtime binds a goroutine to a C thread the first
// time it calls in and keeps it, counted, for the thread's life.
const kernelCallers = 3

// goroutineBound is the most goroutines a server without clients may
// have: those it had when it started listening, the idle pool it is
// designed to keep, one per kernel thread that has called in, and one
// for the goroutine that logs the count (the last client's reader, on
// its way out).
func (s *server) goroutineBound() int {
	return s.startGoroutines + idleWorkers + kernelCallers + 1
}

// settled reports whether n is back to base: the same descriptors and
// processes, goroutines within goroutineBound, and threads within
// maxThreads.
func (s *server) settled(base, n snapshot, maxThreads int) bool {
	return n.fds == base.fds && n.procs == base.procs &&
		n.goroutines <= s.goroutineBound() && n.threads <= maxThreads
}

// expectSettled waits until the server is back to base (see settled) and
// fails the test if it does not get there.
func (s *server) expectSettled(t *testing.T, base snapshot,
	maxThreads int) snapshot {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		n, err := s.measure()
		if err != nil {
			t.Fatalf("measuring: %v", err)
		}
		if s.settled(base, n, maxThreads) {
			t.Logf("after: %v", n)
			return n
		}
		if time.Now().After(deadline) {
			t.Errorf("leak: after %v, server has %v; baseline %v "+
				"(goroutines at most %d, threads at most %d)",
				settleTimeout, n, base, s.goroutineBound(),
				maxThreads)
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// raiseFileLimit lets this process, and the servers it starts, open as
// many descriptors as the hard limit allows, and returns that limit.
func raiseFileLimit(t *testing.T) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE,
			&rl); err != nil {
			t.Fatal(err)
		}
	}
	return rl.Cur
}
