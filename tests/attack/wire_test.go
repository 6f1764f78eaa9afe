package attack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"syscall"
	"time"
)

// The wire format of protocol.md §2, written from the client's side and
// independently of the server's own encoder, so that a shared mistake
// cannot hide. Host byte order, LP64 layout.
var order = binary.NativeEndian

// Sizes of the wire structures, in bytes.
const (
	hdrSize      = 24 // len u64, reqno u64, class u16, type u16, arg u32
	copyDescSize = 16 // size_t len; void *addr
	sysRespSize  = 24 // int error; pad; register_t retval[2]
	cookieSize   = 16 // uint32_t auth[4]
	forkHSSize   = 20 // cookie + int cancel
	maxBanner    = 96 // the client reads the banner with one read
)

// Frame classes.
const (
	classReq   = 0
	classResp  = 1
	classError = 2
)

// Frame types.
const (
	typeHandshake  = 0
	typeSyscall    = 1
	typeCopyin     = 2
	typeCopyinstr  = 3
	typeCopyout    = 4
	typeCopyoutstr = 5
	typeAnonmmap   = 6
	typePrefork    = 7
	typeRaise      = 8
)

// Handshake kinds.
const (
	hsGuest = 0
	hsAuth  = 1
	hsFork  = 2
	hsExec  = 3
)

// Error codes of ERROR frames.
const (
	errAuth           = 2
	errInvalidPrefork = 3
	errMalformed      = 7
)

// System call numbers and errno values of the demo kernel (demokern.h).
const (
	sysRead     = 3
	sysWrite    = 4
	sysOpen     = 5
	sysClose    = 6
	sysGetpid   = 20
	sysPipe     = 42
	sysGetlogin = 49
	sysSetlogin = 50
	sysMmap     = 197
	sysLseek    = 199
	sysNproc    = 501
	sysGetname  = 502
	sysFaults   = 503

	oRDWR  = 0x0002
	oCREAT = 0x0200
	oTRUNC = 0x0400

	protRW     = 0x03
	mapPrivate = 0x0002
	mapAnon    = 0x1000

	eFAULT = 14
	eINVAL = 22
	eNOMEM = 12

	maxComLen = 16 // process name, NUL excluded
)

// ioTimeout bounds every read and write of a test client: a server that
// stops answering fails the test instead of hanging it.
const ioTimeout = 30 * time.Second

// hdr is a frame header.
type hdr struct {
	len   uint64
	reqno uint64
	class uint16
	typ   uint16
	arg   uint32
}

// encode returns the 24 bytes of h.
func (h hdr) encode() []byte {
	b := make([]byte, hdrSize)
	order.PutUint64(b[0:], h.len)
	order.PutUint64(b[8:], h.reqno)
	order.PutUint16(b[16:], h.class)
	order.PutUint16(b[18:], h.typ)
	order.PutUint32(b[20:], h.arg)
	return b
}

// decodeHdr reads a header from the first 24 bytes of b.
func decodeHdr(b []byte) hdr {
	return hdr{
		len:   order.Uint64(b[0:]),
		reqno: order.Uint64(b[8:]),
		class: order.Uint16(b[16:]),
		typ:   order.Uint16(b[18:]),
		arg:   order.Uint32(b[20:]),
	}
}

// frame is one frame received from the server.
type frame struct {
	h    hdr
	body []byte
}

// Errors a client reports.
var (
	// errClosed: the server closed the connection.
	errClosed = errors.New("connection closed by server")
	// errRefused: the server answered with an ERROR frame.
	errRefused = errors.New("server answered ERROR")
)

// region is a piece of the client's simulated address space.
type region struct {
	addr uint64
	data []byte
}

// client is one connection speaking the protocol as librumpclient does:
// one request at a time, answering the server's copy requests from a
// simulated address space. It is not safe for concurrent use.
type client struct {
	nc     *net.UnixConn
	banner string
	reqno  uint64 // number of the next request

	regions []region // sorted by addr
	next    uint64   // next free simulated address

	// hook, when set, sees every request of the server first and may
	// answer it (or not) itself; it returns true if it did.
	hook func(c *client, f frame) bool

	// Counters of what the server sent, for tests to look at.
	copyouts []frame
	signals  []uint32
}

// dial connects to the unix socket at path and reads the banner.
func dial(path string) (*client, error) {
	c, err := dialNoBanner(path)
	if err != nil {
		return nil, err
	}
	if err := c.readBanner(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// dialNoBanner connects without reading the banner.
func dialNoBanner(path string) (*client, error) {
	nc, err := net.DialTimeout("unix", path, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &client{nc: nc.(*net.UnixConn), next: 0x100000}, nil
}

// readBanner reads the banner line with one read, as librumpclient does.
func (c *client) readBanner() error {
	b := make([]byte, maxBanner)
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	n, err := c.nc.Read(b)
	if n == 0 && (err == io.EOF || err == nil) {
		return errClosed
	}
	if err != nil {
		return err
	}
	if b[n-1] != '\n' {
		return fmt.Errorf("banner %q lacks its newline", b[:n])
	}
	c.banner = string(b[:n])
	return nil
}

// close hangs up.
func (c *client) close() { c.nc.Close() }

// write sends raw bytes.
func (c *client) write(b ...[]byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	bufs := net.Buffers(b)
	_, err := bufs.WriteTo(c.nc)
	return err
}

// send sends a frame whose length is that of its header and body.
func (c *client) send(h hdr, body []byte) error {
	h.len = uint64(hdrSize + len(body))
	return c.write(h.encode(), body)
}

// newReq returns a fresh request number.
func (c *client) newReq() uint64 {
	c.reqno++
	return c.reqno
}

// readFrame reads one frame, with a deadline.
func (c *client) readFrame() (frame, error) {
	return c.readFrameWithin(ioTimeout)
}

// readFrameWithin reads one frame, waiting at most d for it.
func (c *client) readFrameWithin(d time.Duration) (frame, error) {
	var b [hdrSize]byte
	c.nc.SetReadDeadline(time.Now().Add(d))
	if _, err := io.ReadFull(c.nc, b[:]); err != nil {
		if err == io.EOF || isReset(err) {
			return frame{}, errClosed
		}
		return frame{}, err
	}
	h := decodeHdr(b[:])
	// A client must not trust the server either; nothing it sends
	// legitimately in these tests is larger than a few megabytes.
	if h.len < hdrSize || h.len > 64<<20 {
		return frame{}, fmt.Errorf("server sent frame length %d", h.len)
	}
	f := frame{h: h, body: make([]byte, h.len-hdrSize)}
	if _, err := io.ReadFull(c.nc, f.body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF || isReset(err) {
			return frame{}, errClosed
		}
		return frame{}, err
	}
	return f, nil
}

// waitClosed reads and drops frames until the server closes the
// connection; it returns the frames seen, or an error if the connection
// is still open after the deadline.
func (c *client) waitClosed() ([]frame, error) {
	var seen []frame
	for {
		f, err := c.readFrame()
		if err == errClosed {
			return seen, nil
		}
		if err != nil {
			return seen, err
		}
		seen = append(seen, f)
	}
}

// alloc maps n bytes of simulated memory filled from data and returns
// their address. Regions are separated by an unmapped gap so that an
// access past the end of one is noticed.
func (c *client) alloc(n int, data []byte) uint64 {
	r := region{addr: c.next, data: make([]byte, n)}
	copy(r.data, data)
	c.next += uint64(n+4095)&^4095 + 4096
	c.regions = append(c.regions, r)
	return r.addr
}

// allocString maps s with its NUL.
func (c *client) allocString(s string) uint64 {
	return c.alloc(len(s)+1, []byte(s))
}

// mem returns the n bytes at addr, or nil if they are not all mapped.
func (c *client) mem(addr, n uint64) []byte {
	i := sort.Search(len(c.regions), func(i int) bool {
		return c.regions[i].addr+uint64(len(c.regions[i].data)) > addr
	})
	if i == len(c.regions) || c.regions[i].addr > addr {
		return nil
	}
	r := c.regions[i]
	off := addr - r.addr
	if off+n > uint64(len(r.data)) {
		return nil
	}
	return r.data[off : off+n]
}

// serve answers one request of the server the way librumpclient would.
func (c *client) serve(f frame) error {
	if c.hook != nil && c.hook(c, f) {
		return nil
	}
	reply := hdr{reqno: f.h.reqno, class: classResp, typ: f.h.typ}
	switch f.h.typ {
	case typeCopyin, typeCopyinstr:
		if len(f.body) != copyDescSize {
			return fmt.Errorf("copy request body of %d bytes",
				len(f.body))
		}
		n := order.Uint64(f.body[0:])
		addr := order.Uint64(f.body[8:])
		var data []byte
		if f.h.typ == typeCopyin {
			data = c.mem(addr, n)
		} else {
			// Like librumpclient: the string up to its NUL, at
			// most the length asked for.
			for k := uint64(0); k < n; k++ {
				b := c.mem(addr+k, 1)
				if b == nil {
					break
				}
				data = c.mem(addr, k+1)
				if b[0] == 0 {
					break
				}
			}
		}
		if data == nil {
			return fmt.Errorf("server asked to copy in unmapped "+
				"%#x+%d", addr, n)
		}
		return c.send(reply, data)
	case typeCopyout, typeCopyoutstr:
		if len(f.body) < copyDescSize {
			return fmt.Errorf("copyout body of %d bytes", len(f.body))
		}
		n := order.Uint64(f.body[0:])
		addr := order.Uint64(f.body[8:])
		data := f.body[copyDescSize:]
		if uint64(len(data)) != n {
			return fmt.Errorf("copyout of %d bytes carries %d", n,
				len(data))
		}
		dst := c.mem(addr, n)
		if dst == nil {
			return fmt.Errorf("server copied out to unmapped %#x+%d",
				addr, n)
		}
		copy(dst, data)
		c.copyouts = append(c.copyouts, frame{h: f.h,
			body: append([]byte(nil), f.body[:copyDescSize]...)})
		return nil
	case typeAnonmmap:
		if len(f.body) != 8 {
			return fmt.Errorf("anonmmap body of %d bytes", len(f.body))
		}
		a := c.alloc(int(order.Uint64(f.body)), nil)
		var b [8]byte
		order.PutUint64(b[:], a)
		return c.send(reply, b[:])
	case typeRaise:
		c.signals = append(c.signals, f.h.arg)
		return nil
	}
	return fmt.Errorf("server sent request type %d", f.h.typ)
}

// await serves the server's requests until the answer to reqno arrives.
func (c *client) await(reqno uint64) (frame, error) {
	for {
		f, err := c.readFrame()
		if err != nil {
			return f, err
		}
		switch f.h.class {
		case classReq:
			if err := c.serve(f); err != nil {
				return f, err
			}
			continue
		case classResp, classError:
			if f.h.reqno != reqno {
				return f, fmt.Errorf("answer to request %d while "+
					"waiting for %d", f.h.reqno, reqno)
			}
			if f.h.class == classError {
				return f, fmt.Errorf("%w %d", errRefused, f.h.arg)
			}
			return f, nil
		}
		return f, fmt.Errorf("server sent class %d", f.h.class)
	}
}

// handshake sends a handshake of the given kind and body and checks the
// answer.
func (c *client) handshake(kind uint32, body []byte) error {
	r := c.newReq()
	if err := c.send(hdr{reqno: r, class: classReq, typ: typeHandshake,
		arg: kind}, body); err != nil {
		return err
	}
	f, err := c.await(r)
	if err != nil {
		return err
	}
	if f.h.typ != typeHandshake || len(f.body) != 4 {
		return fmt.Errorf("handshake answered type %d with %d bytes",
			f.h.typ, len(f.body))
	}
	if e := int32(order.Uint32(f.body)); e != 0 {
		return fmt.Errorf("handshake error %d", e)
	}
	return nil
}

// guest does the guest handshake with name and its NUL.
func (c *client) guest(name string) error {
	return c.handshake(hsGuest, append([]byte(name), 0))
}

// dialGuest connects and does the guest handshake.
func dialGuest(path, name string) (*client, error) {
	c, err := dial(path)
	if err != nil {
		return nil, err
	}
	if err := c.guest(name); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// sysResult is the answer to a system call.
type sysResult struct {
	errno  int32
	retval [2]int64
}

// syscallArgs encodes arguments as the kernel expects them: each padded
// to a register_t.
func syscallArgs(args []uint64) []byte {
	b := make([]byte, 8*len(args))
	for i, a := range args {
		order.PutUint64(b[8*i:], a)
	}
	return b
}

// sendSyscall sends a system call and returns its request number without
// waiting for the answer.
func (c *client) sendSyscall(num uint32, args ...uint64) (uint64, error) {
	r := c.newReq()
	return r, c.send(hdr{reqno: r, class: classReq, typ: typeSyscall,
		arg: num}, syscallArgs(args))
}

// syscall runs a system call, serving the server's requests meanwhile.
func (c *client) syscall(num uint32, args ...uint64) (sysResult, error) {
	r, err := c.sendSyscall(num, args...)
	if err != nil {
		return sysResult{}, err
	}
	return c.awaitSyscall(r)
}

// awaitSyscall waits for and decodes the answer to system call reqno.
func (c *client) awaitSyscall(reqno uint64) (sysResult, error) {
	f, err := c.await(reqno)
	if err != nil {
		return sysResult{}, err
	}
	if f.h.typ != typeSyscall || len(f.body) != sysRespSize {
		return sysResult{}, fmt.Errorf("syscall answered type %d "+
			"with %d bytes", f.h.typ, len(f.body))
	}
	return sysResult{
		errno: int32(order.Uint32(f.body[0:])),
		retval: [2]int64{int64(order.Uint64(f.body[8:])),
			int64(order.Uint64(f.body[16:]))},
	}, nil
}

// ok runs a system call that must succeed and returns retval[0].
func (c *client) ok(num uint32, args ...uint64) (int64, error) {
	r, err := c.syscall(num, args...)
	if err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, fmt.Errorf("syscall %d: error %d", num, r.errno)
	}
	return r.retval[0], nil
}

// getname returns the name of the client's process, via syscall 502.
func (c *client) getname() (string, error) {
	buf := c.alloc(64, nil)
	if _, err := c.ok(sysGetname, buf, 64); err != nil {
		return "", err
	}
	m := c.mem(buf, 64)
	i := bytes.IndexByte(m, 0)
	if i < 0 {
		return "", fmt.Errorf("getname: no NUL in %q", m)
	}
	return string(m[:i]), nil
}

// prefork asks for a prefork and returns its cookie.
func (c *client) prefork() ([]byte, error) {
	r := c.newReq()
	if err := c.send(hdr{reqno: r, class: classReq, typ: typePrefork},
		nil); err != nil {
		return nil, err
	}
	f, err := c.await(r)
	if err != nil {
		return nil, err
	}
	if f.h.typ != typePrefork || len(f.body) != cookieSize {
		return nil, fmt.Errorf("prefork answered type %d with %d bytes",
			f.h.typ, len(f.body))
	}
	return f.body, nil
}

// forkBody is the body of a fork handshake.
func forkBody(cookie []byte, cancel bool) []byte {
	b := make([]byte, forkHSSize)
	copy(b, cookie)
	if cancel {
		order.PutUint32(b[cookieSize:], 1)
	}
	return b
}

// isReset reports a connection reset or broken pipe, which is how a
// server's close can show up when data was still unread on its side.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
