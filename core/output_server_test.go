package core

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"
)

func patOK(addr uint64, b []byte, n int) error {
	if len(b) != n {
		return fmt.Errorf("addr %#x: %d bytes, want %d", addr, len(b), n)
	}
	for i := range b {
		if b[i] != byte(uint64(i)*31+addr>>12) {
			return fmt.Errorf("addr %#x: byte %d is %d", addr, i, b[i])
		}
	}
	return nil
}

// End to end: two kernel I/O threads copy out 200 KiB each (backlog 64
// KiB) while the client pauses reading for a moment, then reads on.
func TestOutputForeignCopyoutsAfterPause(t *testing.T) {
	maxBacklog = 64 << 10
	defer func() { maxBacklog = DefaultMaxBacklog }()
	s, _ := testServer(t, func(c *Config) { c.StallTimeout = 5 * time.Second })
	c := dialServer(t, s)
	c.guest("pauser")
	gate := make(chan struct{})
	var once sync.Once
	c.hook = func(*tclient, frame) bool {
		once.Do(func() { <-gate })
		return false
	}
	type res struct {
		e  Errno
		ok bool
	}
	rs := make(chan res, 3)
	for i := 1; i <= 3; i++ {
		go func() {
			e, _, ok := c.syscall(sysAsyncP, 0, uint64(0x1000*i), 1<<20)
			rs <- res{e, ok}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	close(gate)
	for i := 0; i < 3; i++ {
		select {
		case r := <-rs:
			if !r.ok || r.e != 0 {
				t.Fatalf("call: %+v", r)
			}
		case <-time.After(8 * time.Second):
			t.Fatalf("call %d never answered (client reading all along)", i)
		}
	}
	for i := 1; i <= 3; i++ {
		c.mu.Lock()
		b := c.out[uint64(0x1000*i)]
		c.mu.Unlock()
		if err := patOK(uint64(0x1000*i), b, 1<<20); err != nil {
			t.Error(err)
		}
	}
}

// Hammer one connection with own and foreign copyouts while the client
// reads slowly; check every byte and that each copyout precedes its answer.
func TestOutputHammer(t *testing.T) {
	s, _ := testServer(t, func(c *Config) {
		c.StallTimeout = 30 * time.Second
		c.MaxClientCalls = 64
	})
	c := dialServer(t, s)
	c.guest("hammer")
	var n int
	var nmu sync.Mutex
	c.hook = func(*tclient, frame) bool {
		nmu.Lock()
		n++
		k := n
		nmu.Unlock()
		if k%7 == 0 {
			time.Sleep(time.Millisecond)
		}
		return false
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for it := 0; it < 30; it++ {
				addr := uint64((g*1000 + it + 1) * 0x1000)
				size := 1 + r.Intn(300<<10)
				switch r.Intn(3) {
				case 0:
					e, rv, ok := c.syscall(sysAsyncP, 0, addr, uint64(size))
					if !ok || e != 0 || rv[0] != int64(size) {
						errs <- fmt.Errorf("async: %v %v %v", e, rv, ok)
						return
					}
					c.mu.Lock()
					b := c.out[addr]
					delete(c.out, addr)
					c.mu.Unlock()
					if err := patOK(addr, b, size); err != nil {
						errs <- err
					}
				case 1:
					e, rv, ok := c.syscall(sysRead, 0, addr, uint64(size))
					if !ok || e != 0 || rv[0] != int64(size) {
						errs <- fmt.Errorf("read: %v %v %v", e, rv, ok)
						return
					}
					c.mu.Lock()
					b := c.out[addr]
					delete(c.out, addr)
					c.mu.Unlock()
					if len(b) != size {
						errs <- fmt.Errorf("read copyout %d/%d", len(b), size)
						continue
					}
					for i := range b {
						if b[i] != byte(i%251) {
							errs <- fmt.Errorf("read byte %d", i)
							break
						}
					}
				case 2:
					e, rv, ok := c.syscall(sysEcho, uint64(g), uint64(it))
					if !ok || e != 0 || rv[0] != int64(g) || rv[1] != int64(it) {
						errs <- fmt.Errorf("echo: %v %v %v", e, rv, ok)
						return
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("hammer hung")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
