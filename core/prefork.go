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
	srv     *Server
	mu      sync.Mutex
	m       map[uint64]*prefork // guarded by mu; by cookieKey
	orphans []*prefork          // guarded by mu; of gone clients, oldest first
}

// maxOrphans bounds the preforks kept for clients that have disconnected.
// Each client's own preforks are bounded by MaxPreforks while it is
// connected; without this bound a client that reconnects over and over
// could leave any number behind for the grace period.
const maxOrphans = 256

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
// daemon) leaves its child to connect a moment later. Past maxOrphans,
// the oldest orphans are released now.
func (t *preforkTable) orphan(c *conn) {
	grace := t.srv.cfg.HandshakeTimeout
	t.mu.Lock()
	for _, pf := range c.preforks {
		if d := time.Until(pf.deadline); d > grace {
			pf.deadline = time.Now().Add(grace)
			pf.timer.Reset(grace)
		}
		t.orphans = append(t.orphans, pf)
	}
	live := t.orphans[:0]
	for _, pf := range t.orphans {
		if t.m[cookieKey(pf.cookie)] == pf {
			live = append(live, pf)
		}
	}
	clear(t.orphans[len(live):])
	t.orphans = live
	var drop []*prefork
	for len(t.orphans) > maxOrphans {
		pf := t.orphans[0]
		t.orphans[0] = nil
		t.orphans = t.orphans[1:]
		t.dropLocked(pf)
		drop = append(drop, pf)
	}
	t.mu.Unlock()
	for _, pf := range drop {
		t.srv.log.client(pf.owner.id, 0, "orphaned prefork dropped")
		t.srv.k.Release(pf.lwp)
	}
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
