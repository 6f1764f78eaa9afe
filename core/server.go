package core

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Server is a running sysproxy server: a listener, its clients, the
// outstanding preforks and the worker pool. There is normally one per
// process, made by rumpuser_sp_init.
type Server struct {
	k      Kernel
	cfg    Config // immutable after Start
	log    *logger
	ep     endpoint
	ln     net.Listener
	banner []byte    // immutable after Start
	random io.Reader // immutable after Start; prefork cookies

	nextID  atomic.Uint64 // last client cookie handed out; 0 is never used
	nextTag atomic.Uint64 // last syscall tag handed out

	work    workQueue
	pool    goPool
	prefork preforkTable

	mu       sync.RWMutex
	clients  map[Cookie]*conn // guarded by mu; every live connection
	stopping bool             // guarded by mu; no new clients once set

	stopOnce sync.Once      // closes the listener once
	conns    sync.WaitGroup // one per connection until its teardown ends
	acceptWG sync.WaitGroup // the accept loop
}

// randomSource makes prefork cookies; tests replace it.
var randomSource io.Reader = rand.Reader

// Start parses cfg.URL, listens on it and serves clients in the background
// until Fini or Close. The returned error is an Errno (use ErrnoOf).
func Start(k Kernel, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	ep, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	ln, err := listen(ep)
	if err != nil {
		return nil, ErrnoOf(err)
	}
	s := &Server{
		k:       newControlled(k),
		cfg:     cfg,
		log:     newLogger(cfg.Debug),
		ep:      ep,
		ln:      ln,
		banner:  makeBanner(cfg.OSType, cfg.OSRelease, cfg.Machine),
		random:  randomSource,
		clients: make(map[Cookie]*conn),
	}
	s.work.max = cfg.MaxWorker
	s.work.qlimit = maxQueuedBytes
	s.pool.max = cfg.IdleWorker
	s.prefork.init(s)
	if s.log.on() {
		s.log.server("listening on %s %s; %d goroutines", ep.network,
			ep.addr, runtime.NumGoroutine())
	}
	s.acceptWG.Add(1)
	go s.acceptLoop()
	return s, nil
}

// makeBanner formats the line sent on accept. The client reads it with a
// single read of at most maxBannerSize+1 bytes and wants the final
// newline, so overlong kernel strings are cut, keeping the newline.
func makeBanner(ostype, osrelease, machine string) []byte {
	b := fmt.Sprintf("RUMPSP-%d.%d-%s-%s/%s", protoMajor, protoMinor,
		ostype, osrelease, machine)
	if len(b) > maxBannerSize-1 {
		b = b[:maxBannerSize-1]
	}
	return []byte(b + "\n")
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// acceptLoop accepts connections until the listener is closed. Running
// out of descriptors pauses accepting instead of ending it.
func (s *Server) acceptLoop() {
	defer s.acceptWG.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if !acceptRetryable(err) {
				s.log.server("accept: %v; no longer accepting", err)
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond),
				time.Second)
			s.log.server("accept: %v; retrying in %v", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.admit(nc)
	}
}

// acceptRetryable reports whether an accept error is a passing shortage.
func acceptRetryable(err error) bool {
	var en unix.Errno
	if errors.As(err, &en) {
		switch en {
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS,
			unix.ENOMEM, unix.ECONNABORTED, unix.EINTR,
			unix.EAGAIN:
			return true
		}
	}
	return false
}

// admit registers a new connection and starts serving it.
func (s *Server) admit(nc net.Conn) {
	id := Cookie(s.nextID.Add(1))
	s.mu.Lock()
	if s.stopping || s.cfg.MaxClients > 0 &&
		len(s.clients) >= s.cfg.MaxClients {
		s.mu.Unlock()
		s.log.client(id, 0, "refused: server full or stopping")
		nc.Close()
		return
	}
	c := newConn(s, id, nc)
	s.clients[id] = c
	s.conns.Add(1)
	s.mu.Unlock()
	s.log.client(id, 0, "connected")
	go c.serve()
}

// lookup returns the live connection of cookie c, or nil.
func (s *Server) lookup(c Cookie) *conn {
	s.mu.RLock()
	cc := s.clients[c]
	s.mu.RUnlock()
	return cc
}

// forget removes a finished connection.
// When debugging, the last one out reports the goroutine count, so that
// leak tests can compare it with the count before the first client.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.clients, c.id)
	idle := len(s.clients) == 0
	s.mu.Unlock()
	s.conns.Done()
	if idle && s.log.on() {
		s.log.server("no clients; %d goroutines",
			runtime.NumGoroutine())
	}
}

// NumClients returns the number of connections not yet torn down.
func (s *Server) NumClients() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.clients)
}

// stopAccept removes an absolute unix socket path and closes the listener,
// once.
func (s *Server) stopAccept() {
	s.stopOnce.Do(func() {
		if s.ep.unlink {
			os.Remove(s.ep.addr)
		}
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		s.ln.Close()
		s.log.server("stopped accepting")
	})
}

// Fini prepares for the kernel's exit: it removes the socket, answers the
// system call identified by tag (or, if the calling thread runs none of
// client c's calls, the newest one of c) with success, so that the client
// that asked for a reboot sees its answer, and stops accepting.
func (s *Server) Fini(c Cookie, tag uint64) {
	if s.ep.unlink {
		os.Remove(s.ep.addr)
	}
	if cc := s.lookup(c); cc != nil {
		cc.answerFini(tag)
	}
	s.stopAccept()
}

// Close stops the server: no more clients, every connection closed, every
// prefork released. It waits until each connection's system calls have
// returned and its process is released. For tests and orderly shutdown.
func (s *Server) Close() {
	s.stopAccept()
	s.acceptWG.Wait()
	s.mu.RLock()
	for _, c := range s.clients {
		c.nc.Close()
	}
	s.mu.RUnlock()
	s.conns.Wait()
	s.prefork.closeAll()
	s.pool.close()
}
