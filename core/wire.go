package core

import (
	"encoding/binary"
	"errors"
	"io"
	"unsafe"
)

// The protocol assumes both ends share an ABI: integers travel in host byte
// order with the host's C layout. The layout below is the LP64 one (size_t,
// pointers and register_t are 8 bytes); a build for a 32-bit target stops
// here rather than speak a wire format no client expects.
var _ [unsafe.Sizeof(uintptr(0)) - 8]byte

var order = binary.NativeEndian

// Protocol version announced in the banner.
const (
	protoMajor = 0
	protoMinor = 4
)

// Sizes of the wire structures, in bytes.
const (
	headerSize     = 24 // len u64, reqno u64, class u16, type u16, arg u32
	copyDescSize   = 16 // size_t len; void *addr
	sysRespSize    = 24 // int error; pad; register_t retval[2]
	forkHSSize     = 20 // uint32_t auth[4]; int cancel
	authSize       = 16 // uint32_t auth[4]
	hsRespSize     = 4  // int error
	anonReqSize    = 8  // size_t howmuch
	anonRespSize   = 8  // void *addr
	maxBannerSize  = 95 // the client reads the banner with one 96-byte read
	defaultMaxBody = 64 << 10
)

// Frame classes (header offset 16).
const (
	classReq   = 0 // a request; the peer answers with RESP or ERROR
	classResp  = 1 // the answer to a request with the same number
	classError = 2 // a request failed; the header's arg is an error code
)

// Frame types (header offset 18).
const (
	typeHandshake  = 0 // client: GUEST, FORK or EXEC; server answers int
	typeSyscall    = 1 // client: arg = sysnum, body = argument block
	typeCopyin     = 2 // server: copy descriptor; client sends len bytes
	typeCopyinstr  = 3 // server: copy descriptor; client sends a string
	typeCopyout    = 4 // server: copy descriptor + data; no answer
	typeCopyoutstr = 5 // server: same as copyout; never sent by us
	typeAnonmmap   = 6 // server: size_t; client answers an address
	typePrefork    = 7 // client: no body; server answers a cookie
	typeRaise      = 8 // server: arg = signal number; no answer
)

// Handshake kinds (header arg of a HANDSHAKE request).
const (
	hsGuest = 0 // new process, body = program name
	hsAuth  = 1 // never implemented by anyone; refused
	hsFork  = 2 // body = fork handshake (cookie + cancel)
	hsExec  = 3 // body = new program name
)

// Error codes carried in the arg of an ERROR frame. The client maps them to
// 0, EAGAIN, EPERM, ESRCH, EIO, EBUSY, ENOMEM and EINVAL.
const (
	errNone             = 0
	errTryAgain         = 1
	errAuth             = 2 // request before handshake, or unknown kind
	errInvalidPrefork   = 3 // fork handshake with an unknown cookie
	errRforkFailed      = 4 // the kernel could not fork
	errInExec           = 5 // prefork or exec while an exec runs
	errNoMem            = 6
	errMalformedRequest = 7 // a request the server cannot parse
)

// Sentinel errors of the frame reader; each closes the connection.
var (
	// errShortFrame: a header announced fewer bytes than a header.
	errShortFrame = errors.New("frame length below header size")
	// errFrameTooBig: a frame is longer than anything it could carry.
	errFrameTooBig = errors.New("frame length above limit")
)

// header is the fixed 24-byte start of every frame.
type header struct {
	len   uint64 // whole frame, header included
	reqno uint64 // chosen by the requester, echoed in the answer
	class uint16
	typ   uint16
	arg   uint32 // sysnum, error code, handshake kind or signal
}

// bodyLen is the number of bytes following the header. It is only
// meaningful once checkLen has accepted h.
func (h header) bodyLen() uint64 { return h.len - headerSize }

// checkLen verifies that the body is at most max bytes long.
func (h header) checkLen(max uint64) error {
	if h.len < headerSize {
		return errShortFrame
	}
	if h.bodyLen() > max {
		return errFrameTooBig
	}
	return nil
}

func (h header) encode(b []byte) {
	_ = b[headerSize-1]
	order.PutUint64(b[0:], h.len)
	order.PutUint64(b[8:], h.reqno)
	order.PutUint16(b[16:], h.class)
	order.PutUint16(b[18:], h.typ)
	order.PutUint32(b[20:], h.arg)
}

func decodeHeader(b []byte) header {
	_ = b[headerSize-1]
	return header{
		len:   order.Uint64(b[0:]),
		reqno: order.Uint64(b[8:]),
		class: order.Uint16(b[16:]),
		typ:   order.Uint16(b[18:]),
		arg:   order.Uint32(b[20:]),
	}
}

// putCopyDesc encodes the copy descriptor of COPYIN, COPYINSTR and COPYOUT.
func putCopyDesc(b []byte, n, addr uint64) {
	order.PutUint64(b[0:], n)
	order.PutUint64(b[8:], addr)
}

// putSysResp encodes a syscall response body.
func putSysResp(b []byte, r SyscallResult) {
	order.PutUint32(b[0:], uint32(r.Errno))
	order.PutUint32(b[4:], 0)
	order.PutUint64(b[8:], uint64(r.Retval[0]))
	order.PutUint64(b[16:], uint64(r.Retval[1]))
}

// forkHandshake is the body of a HANDSHAKE FORK request.
type forkHandshake struct {
	cookie [authSize]byte
	cancel bool
}

func decodeForkHandshake(b []byte) (forkHandshake, bool) {
	var f forkHandshake
	if len(b) != forkHSSize {
		return f, false
	}
	copy(f.cookie[:], b[:authSize])
	f.cancel = order.Uint32(b[authSize:]) != 0
	return f, true
}

// frameReader reads frames from a connection through a small buffer. Only
// the goroutine that holds a connection's read role uses it.
//
// A header is always read into the buffer; bodies are read into storage
// the caller chose after checking the header, so the reader itself never
// allocates on behalf of the peer.
type frameReader struct {
	r     io.Reader
	buf   []byte
	start int // buf[start:end] is read but not consumed
	end   int
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, size)}
}

// fill makes at least n bytes available in buf[start:end].
func (fr *frameReader) fill(n int) error {
	if fr.end-fr.start >= n {
		return nil
	}
	if fr.start > 0 {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	for fr.end < n {
		m, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += m
		if err != nil && fr.end < n {
			if err == io.EOF && fr.end > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// header reads the next frame header.
func (fr *frameReader) header() (header, error) {
	if err := fr.fill(headerSize); err != nil {
		return header{}, err
	}
	h := decodeHeader(fr.buf[fr.start:])
	fr.start += headerSize
	return h, nil
}

// body reads exactly len(dst) body bytes into dst: first what is buffered,
// then straight from the connection.
func (fr *frameReader) body(dst []byte) error {
	n := copy(dst, fr.buf[fr.start:fr.end])
	fr.start += n
	if n == len(dst) {
		return nil
	}
	_, err := io.ReadFull(fr.r, dst[n:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// discard skips n body bytes.
func (fr *frameReader) discard(n uint64) error {
	for n > 0 {
		if fr.start == fr.end {
			fr.start, fr.end = 0, 0
			m, err := fr.r.Read(fr.buf)
			fr.end = m
			if err != nil && m == 0 {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := uint64(fr.end - fr.start)
		if k > n {
			k = n
		}
		fr.start += int(k)
		n -= k
	}
	return nil
}
