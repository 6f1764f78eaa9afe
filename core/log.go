package core

import (
	"fmt"
	"io"
	"sync"
)

// logger writes debug lines "rumpsp: [client N] req R: event" when enabled.
// A nil *logger is silent, which is the default.
type logger struct {
	mu sync.Mutex // serialises lines
	w  io.Writer
}

func newLogger(w io.Writer) *logger {
	if w == nil {
		return nil
	}
	return &logger{w: w}
}

// on reports whether logging is enabled; callers test it before building
// arguments so that a silent server pays nothing.
func (l *logger) on() bool { return l != nil }

// client logs an event of client c (0: the server itself) about request
// number req.
func (l *logger) client(c Cookie, req uint64, format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	fmt.Fprintf(l.w, "rumpsp: [client %d] req %d: %s\n", c, req, msg)
	l.mu.Unlock()
}

// server logs an event that belongs to no client.
func (l *logger) server(format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	fmt.Fprintf(l.w, "rumpsp: [server] %s\n", msg)
	l.mu.Unlock()
}
