package core

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// sunPathMax is the size of sockaddr_un.sun_path on Linux; a path must fit
// with its NUL.
const sunPathMax = 108

// maxSchemeLen bounds the part before "://", as the C server did.
const maxSchemeLen = 15

// endpoint is a parsed server URL.
type endpoint struct {
	network string // "unix", "tcp4" or "tcp6"
	addr    string // what net.Listen takes
	unlink  bool   // unix socket with an absolute path: remove at fini
}

// urlError prints msg on stderr, as the C server does for a bad URL, and
// returns e.
func urlError(e Errno, format string, args ...any) error {
	fmt.Fprintf(os.Stderr, "rumpsp: "+format+"\n", args...)
	return e
}

// parseURL parses unix://PATH, tcp://ADDR:PORT and tcp6://[ADDR]:PORT.
// Errors are EINVAL, ERANGE or ENAMETOOLONG with a message on stderr.
func parseURL(url string) (endpoint, error) {
	i := strings.Index(url, "://")
	if i < 0 {
		return endpoint{}, urlError(EINVAL, "invalid locator %q", url)
	}
	scheme, rest := url[:i], url[i+3:]
	if len(scheme) > maxSchemeLen {
		return endpoint{}, urlError(EINVAL,
			"identifier too long in %q", url)
	}
	switch scheme {
	case "unix":
		return parseUnix(rest)
	case "tcp":
		return parseTCP(rest, false)
	case "tcp6":
		return parseTCP(rest, true)
	}
	return endpoint{}, urlError(EINVAL, "invalid identifier in %q", url)
}

// parseUnix makes a relative path absolute against the working directory,
// so that the socket can be removed at shutdown even if the process has
// changed directory since. If the directory is unknown the path stays
// relative and is never removed.
func parseUnix(path string) (endpoint, error) {
	if len(path) >= sunPathMax {
		return endpoint{}, urlError(ENAMETOOLONG,
			"unix socket path too long: %q", path)
	}
	if path == "" {
		return endpoint{}, urlError(EINVAL, "empty unix socket path")
	}
	if !strings.HasPrefix(path, "/") {
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintf(os.Stderr, "rumpsp: cannot determine cwd, "+
				"socket will not be removed at exit\n")
		} else {
			path = wd + "/" + path
			if len(path) >= sunPathMax {
				return endpoint{}, urlError(ENAMETOOLONG,
					"unix socket path too long: %q", path)
			}
		}
	}
	return endpoint{
		network: "unix",
		addr:    path,
		unlink:  strings.HasPrefix(path, "/"),
	}, nil
}

// parseTCP parses ADDR:PORT (v6: [ADDR]:PORT) with "*" or "0" (v6 also
// "::") for any address and an optional "/" after the port.
func parseTCP(s string, v6 bool) (endpoint, error) {
	var host, port string
	if v6 {
		if !strings.HasPrefix(s, "[") {
			return endpoint{}, urlError(EINVAL,
				"tcp6 address must be in brackets: %q", s)
		}
		j := strings.Index(s, "]:")
		if j < 0 {
			return endpoint{}, urlError(EINVAL,
				"missing port specifier in %q", s)
		}
		host, port = s[1:j], s[j+2:]
	} else {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return endpoint{}, urlError(EINVAL,
				"missing port specifier in %q", s)
		}
		host, port = s[:j], s[j+1:]
	}
	if len(host) > 63 {
		return endpoint{}, urlError(EINVAL, "address too long: %q", s)
	}

	var ip netip.Addr
	switch {
	case host == "*" || host == "0":
		if v6 {
			ip = netip.IPv6Unspecified()
		} else {
			ip = netip.IPv4Unspecified()
		}
	default:
		a, err := netip.ParseAddr(host)
		if err != nil || a.Is6() != v6 || a.Zone() != "" && !v6 {
			return endpoint{}, urlError(EINVAL,
				"cannot parse address %q", host)
		}
		ip = a
	}

	n := 0
	for n < len(port) && port[n] >= '0' && port[n] <= '9' {
		n++
	}
	if n == 0 {
		return endpoint{}, urlError(EINVAL, "port not found: %q", port)
	}
	if tail := port[n:]; tail != "" && tail != "/" {
		return endpoint{}, urlError(EINVAL,
			"junk at end of port: %q", s)
	}
	p, err := strconv.ParseUint(port[:n], 10, 64)
	if err != nil || p > 65535 {
		return endpoint{}, urlError(ERANGE,
			"port %s out of range", port[:n])
	}

	network := "tcp4"
	if v6 {
		network = "tcp6"
	}
	return endpoint{
		network: network,
		addr:    netip.AddrPortFrom(ip, uint16(p)).String(),
	}, nil
}

// listen opens the listening socket for ep. A unix socket is never removed
// by the listener itself: the server decides when (see Server.stopAccept).
func listen(ep endpoint) (net.Listener, error) {
	ln, err := net.Listen(ep.network, ep.addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rumpsp: cannot listen on %s: %v\n",
			ep.addr, err)
		return nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	return ln, nil
}
