package core

import (
	"crypto/subtle"
	"sync"
	"time"
)

// prefork is a process forked for a client's fork() whose child has not
// presented the cookie yet.
type prefork struct {
	cookie   [authSize]byte // immutable
	lwp      LWP            // immutable
	owner    *conn          // immutable; the client that asked for it
	deadline time.Time      // guarded by preforkTable.mu
	timer    *time.Timer    // guarded by preforkTable.mu
}

// preforkTable holds the outstanding preforks of all clients. A prefork is
// found by the first half of its cookie and then checked against the whole
// cookie in constant time, so that lookup timing tells a guesser nothing
// about the secret half.
type preforkTable struct {
	srv *Server
	mu  sync.Mutex
	m   map[uint64]*prefork // guarded by mu; by cookieKey
}

func (t *preforkTable) init(s *Server) {
	t.srv = s
	t.m = make(map[uint64]*prefork)
}

func cookieKey(c [authSize]byte) uint64 { return order.Uint64(c[:8]) }

// add records a new prefork of owner that expires after PreforkTimeout.
func (t *preforkTable) add(cookie [authSize]byte, l LWP, owner *conn) {
	pf := &prefork{cookie: cookie, lwp: l, owner: owner}
	d := t.srv.cfg.PreforkTimeout
	t.mu.Lock()
	if old := t.m[cookieKey(cookie)]; old != nil {
		// 64 random bits collided: keep the old one reachable by
		// retiring it now rather than overwriting it.
		t.dropLocked(old)
		go t.srv.k.Release(old.lwp)
	}
	pf.deadline = time.Now().Add(d)
	pf.timer = time.AfterFunc(d, func() { t.expire(pf) })
	t.m[cookieKey(cookie)] = pf
	owner.preforks = append(owner.preforks, pf)
	t.mu.Unlock()
}

// count returns the number of c's unclaimed preforks.
func (t *preforkTable) count(c *conn) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(c.preforks)
}

// take removes and returns the prefork named by cookie, or nil.
func (t *preforkTable) take(cookie [authSize]byte) *prefork {
	t.mu.Lock()
	defer t.mu.Unlock()
	pf := t.m[cookieKey(cookie)]
	if pf == nil ||
		subtle.ConstantTimeCompare(pf.cookie[:], cookie[:]) != 1 {
		return nil
	}
	t.dropLocked(pf)
	return pf
}

// dropLocked forgets pf; the caller releases its process.
func (t *preforkTable) dropLocked(pf *prefork) {
	delete(t.m, cookieKey(pf.cookie))
	pf.timer.Stop()
	ps := pf.owner.preforks
	for i, p := range ps {
		if p == pf {
			ps[i] = ps[len(ps)-1]
			ps[len(ps)-1] = nil
			pf.owner.preforks = ps[:len(ps)-1]
			break
		}
	}
}

// expire releases pf if no child claimed it in time.
func (t *preforkTable) expire(pf *prefork) {
	t.mu.Lock()
	if t.m[cookieKey(pf.cookie)] != pf {
		t.mu.Unlock()
		return
	}
	t.dropLocked(pf)
	t.mu.Unlock()
	t.srv.log.client(pf.owner.id, 0, "prefork expired")
	t.srv.k.Release(pf.lwp)
}

// orphan shortens the life of the preforks of a client that disconnected.
// They are not freed at once: a client that forks and exits at once (a
// daemon) leaves its child to connect a moment later.
func (t *preforkTable) orphan(c *conn) {
	grace := t.srv.cfg.HandshakeTimeout
	t.mu.Lock()
	for _, pf := range c.preforks {
		if d := time.Until(pf.deadline); d > grace {
			pf.deadline = time.Now().Add(grace)
			pf.timer.Reset(grace)
		}
	}
	t.mu.Unlock()
}

// closeAll releases every outstanding prefork.
func (t *preforkTable) closeAll() {
	t.mu.Lock()
	var all []*prefork
	for _, pf := range t.m {
		all = append(all, pf)
	}
	for _, pf := range all {
		t.dropLocked(pf)
	}
	t.mu.Unlock()
	for _, pf := range all {
		t.srv.k.Release(pf.lwp)
	}
}
