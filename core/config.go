package core

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// Defaults of the server's limits. They are far above what a stock
// librumpclient program needs: its largest request is a syscall argument
// block of a few hundred bytes, and its handshake follows the banner at
// once.
const (
	DefaultMaxWorker        = 128
	DefaultIdleWorker       = 16
	DefaultMaxFrame         = defaultMaxBody + headerSize
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPreforkTimeout   = 60 * time.Second
	DefaultMaxPreforks      = 32
	DefaultStallTimeout     = 10 * time.Second
	DefaultMaxBacklog       = 4 << 20
)

// Config says where and how a server runs.
type Config struct {
	URL       string // unix://PATH, tcp://ADDR:PORT or tcp6://[ADDR]:PORT
	OSType    string // banner fields, as the kernel reports them
	OSRelease string
	Machine   string

	// MaxWorker bounds the system calls running at once; more wait in
	// arrival order. IdleWorker is how many idle goroutines are kept
	// for reuse. Zero means the default.
	MaxWorker  int
	IdleWorker int

	// MaxFrame bounds a client request frame, header included. Larger
	// frames close the connection before anything is allocated.
	MaxFrame int

	// HandshakeTimeout drops a client that has not completed its
	// handshake this long after connecting.
	HandshakeTimeout time.Duration

	// PreforkTimeout frees a prefork that no child has claimed this long
	// after it was made. Once the forking client has disconnected, an
	// unclaimed prefork lives at most HandshakeTimeout more.
	PreforkTimeout time.Duration

	// MaxClients bounds connected clients; 0 means no limit other than
	// the file descriptor limit. Connections over it are closed at once.
	MaxClients int

	// MaxClientCalls bounds the system calls one client may have queued
	// or running; more are answered with ERROR TRYAGAIN (EAGAIN to the
	// program). It keeps one client from holding every worker. Zero
	// means half of MaxWorker.
	MaxClientCalls int

	// MaxPreforks bounds the unclaimed preforks of one client; more are
	// answered with ERROR TRYAGAIN (EAGAIN from fork). Each holds a
	// kernel process until a child claims it or it expires.
	MaxPreforks int

	// StallTimeout is how long a thread that is not running one of a
	// client's own system calls may wait for that client to read its
	// socket (once DefaultMaxBacklog bytes are queued for it) before
	// the client is dropped.
	StallTimeout time.Duration

	// Debug receives one line per event when not nil.
	Debug io.Writer
}

// Environment variables read by DefaultConfig.
const (
	EnvDebug            = "RUMPSP_DEBUG"             // non-empty, not "0": log to stderr
	EnvMaxFrame         = "RUMPSP_MAX_FRAME"         // bytes
	EnvHandshakeTimeout = "RUMPSP_HANDSHAKE_TIMEOUT" // Go duration or seconds
	EnvPreforkTimeout   = "RUMPSP_PREFORK_TIMEOUT"   // Go duration or seconds
	EnvMaxClients       = "RUMPSP_MAX_CLIENTS"       // count, 0 = unlimited
	EnvMaxClientCalls   = "RUMPSP_MAX_CLIENT_CALLS"  // count
	EnvMaxPreforks      = "RUMPSP_MAX_PREFORKS"      // count
	EnvStallTimeout     = "RUMPSP_STALL_TIMEOUT"     // Go duration or seconds
)

// DefaultConfig returns the defaults, overridden by the RUMPSP_*
// environment variables. A malformed value is reported on stderr and
// ignored.
func DefaultConfig() Config {
	c := Config{
		MaxWorker:        DefaultMaxWorker,
		IdleWorker:       DefaultIdleWorker,
		MaxFrame:         DefaultMaxFrame,
		HandshakeTimeout: DefaultHandshakeTimeout,
		PreforkTimeout:   DefaultPreforkTimeout,
		MaxPreforks:      DefaultMaxPreforks,
		StallTimeout:     DefaultStallTimeout,
	}
	if v := os.Getenv(EnvDebug); v != "" && v != "0" {
		c.Debug = os.Stderr
	}
	envInt(EnvMaxFrame, &c.MaxFrame, headerSize)
	envInt(EnvMaxClients, &c.MaxClients, 0)
	envInt(EnvMaxClientCalls, &c.MaxClientCalls, 1)
	envInt(EnvMaxPreforks, &c.MaxPreforks, 1)
	envDuration(EnvStallTimeout, &c.StallTimeout)
	envDuration(EnvHandshakeTimeout, &c.HandshakeTimeout)
	envDuration(EnvPreforkTimeout, &c.PreforkTimeout)
	return c
}

func envInt(name string, dst *int, min int) {
	v := os.Getenv(name)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		fmt.Fprintf(os.Stderr, "rumpsp: ignoring %s=%q\n", name, v)
		return
	}
	*dst = n
}

func envDuration(name string, dst *time.Duration) {
	v := os.Getenv(name)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s, err2 := strconv.ParseFloat(v, 64)
		if err2 != nil {
			fmt.Fprintf(os.Stderr, "rumpsp: ignoring %s=%q\n", name, v)
			return
		}
		d = time.Duration(s * float64(time.Second))
	}
	if d <= 0 {
		fmt.Fprintf(os.Stderr, "rumpsp: ignoring %s=%q\n", name, v)
		return
	}
	*dst = d
}

// withDefaults fills the zero fields of c.
func (c Config) withDefaults() Config {
	if c.MaxWorker <= 0 {
		c.MaxWorker = DefaultMaxWorker
	}
	if c.IdleWorker < 0 {
		c.IdleWorker = 0
	} else if c.IdleWorker == 0 {
		c.IdleWorker = DefaultIdleWorker
	}
	if c.MaxClientCalls <= 0 {
		c.MaxClientCalls = max(1, c.MaxWorker/2)
	}
	if c.MaxFrame < headerSize {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.PreforkTimeout <= 0 {
		c.PreforkTimeout = DefaultPreforkTimeout
	}
	if c.MaxPreforks <= 0 {
		c.MaxPreforks = DefaultMaxPreforks
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	return c
}
