package core

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// unixPair returns two connected *net.UnixConn.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "sp")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := mk(fds[0]), mk(fds[1])
	_ = filepath.Join
	return a, b
}

// drainFrames reads frames from r until it has n, returning them.
func drainFrames(t *testing.T, r io.Reader, n int) []frame {
	var fs []frame
	for i := 0; i < n; i++ {
		f, err := readFrame(r)
		if err != nil {
			t.Errorf("frame %d: %v", i, err)
			return fs
		}
		fs = append(fs, f)
	}
	return fs
}

// A foreign writer whose frame does not fit next to the queue waits; when
// the flusher drains the queue completely and exits before the waiter
// runs, the waiter queues its frame with no flusher. Every later own
// writer then waits forever (busy false, queue non-empty: nobody
// broadcasts), even after the connection is closed.
func TestOutputQueueNeverStranded(t *testing.T) {
	srv, cli := unixPair(t)
	defer cli.Close()
	var o output
	o.init(srv, 64<<10, 5*time.Second)

	// 1: 1 MiB from a foreign thread: partly written, rest queued, flusher.
	if err := o.send(false, header{reqno: 1, class: classReq, typ: typeCopyout}, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// 2: 100 KiB from a foreign thread: > limit, must wait for room.
	done2 := make(chan error, 1)
	go func() {
		done2 <- o.send(false, header{reqno: 2, class: classReq, typ: typeCopyout}, bytes.Repeat([]byte{2}, 100<<10))
	}()
	time.Sleep(100 * time.Millisecond)
	// The client reads now.
	got := make(chan []frame, 1)
	go func() { got <- drainFrames(t, cli, 3) }()
	if err := <-done2; err != nil {
		t.Fatalf("foreign send 2: %v", err)
	}
	// 3: an own writer (e.g. the syscall answer).
	done3 := make(chan error, 1)
	go func() {
		done3 <- o.send(true, header{reqno: 3, class: classResp, typ: typeSyscall}, make([]byte, sysRespSize))
	}()
	select {
	case err := <-done3:
		if err != nil {
			t.Fatalf("own send: %v", err)
		}
	case <-time.After(3 * time.Second):
		o.mu.Lock()
		t.Errorf("own writer stuck: busy=%v len(queue)=%d qlen=%d err=%v", o.busy, len(o.queue), o.qlen, o.err)
		o.mu.Unlock()
		srv.Close() // the connection is dropped
		select {
		case <-done3:
		case <-time.After(2 * time.Second):
			t.Fatal("own writer still stuck after the connection was closed")
		}
		return
	}
	fs := <-got
	for i, f := range fs {
		if f.h.reqno != uint64(i+1) {
			t.Errorf("frame %d has reqno %d", i, f.h.reqno)
		}
	}
}

// slowConn is a UnixConn whose Write, once the bytes are in the socket,
// pauses before returning: a goroutine preempted between the write(2)
// and re-taking o.mu.
type slowConn struct {
	*net.UnixConn
	once    sync.Once
	written chan struct{}
	release chan struct{}
	armed   bool
}

func (c *slowConn) Write(b []byte) (int, error) {
	n, err := c.UnixConn.Write(b)
	if c.armed {
		c.once.Do(func() {
			close(c.written)
			<-c.release
		})
	}
	return n, err
}

// A stall timeout that expires while the flusher's write has just
// completed: failLocked sets queue to nil, and the flusher then indexes
// o.queue[0].
func TestOutputFlusherAfterStallDrop(t *testing.T) {
	srv, cli := unixPair(t)
	defer cli.Close()
	sc := &slowConn{UnixConn: srv, written: make(chan struct{}), release: make(chan struct{}), armed: true}
	var o output
	o.init(sc, 64<<10, 300*time.Millisecond)

	if err := o.send(false, header{reqno: 1, class: classReq, typ: typeCopyout}, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	done2 := make(chan error, 1)
	go func() {
		done2 <- o.send(false, header{reqno: 2, class: classReq, typ: typeCopyout}, make([]byte, 100<<10))
	}()
	time.Sleep(50 * time.Millisecond)
	go io.Copy(io.Discard, cli) // the client reads; the flusher's write completes
	<-sc.written
	err := <-done2 // the waiter's stall timer expires meanwhile
	t.Logf("waiter: %v", err)
	close(sc.release) // the flusher goes on
	time.Sleep(200 * time.Millisecond)
	o.mu.Lock()
	t.Logf("after: busy=%v err=%v", o.busy, o.err)
	o.mu.Unlock()
}
