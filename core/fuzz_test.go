package core

import (
	"bufio"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// FuzzHeader checks the frame decoder: any 24 bytes decode, re-encode to
// the same bytes, and the length check never accepts a frame shorter than
// a header or longer than the limit.
func FuzzHeader(f *testing.F) {
	seed := func(h header) []byte {
		b := make([]byte, headerSize)
		h.encode(b)
		return b
	}
	f.Add(seed(header{len: 24}), uint64(0))
	f.Add(seed(header{len: 48, reqno: 7, typ: typeSyscall, arg: 20}),
		uint64(defaultMaxBody))
	f.Add(seed(header{len: 1 << 63, class: classResp}), uint64(16))
	f.Add(seed(header{len: 3}), uint64(100))
	f.Fuzz(func(t *testing.T, b []byte, limit uint64) {
		if len(b) < headerSize {
			return
		}
		h := decodeHeader(b)
		var out [headerSize]byte
		h.encode(out[:])
		if string(out[:]) != string(b[:headerSize]) {
			t.Fatalf("round trip changed %x to %x", b[:headerSize], out)
		}
		err := h.checkLen(limit)
		if err == nil && (h.len < headerSize || h.len-headerSize > limit) {
			t.Fatalf("accepted length %d with limit %d", h.len, limit)
		}
		if err != nil && h.len >= headerSize && h.len-headerSize <= limit {
			t.Fatalf("refused length %d with limit %d", h.len, limit)
		}
		fh, ok := decodeForkHandshake(b)
		if ok != (len(b) == forkHSSize) || ok && fh.cookie[0] != b[0] {
			t.Fatal("fork handshake decode")
		}
	})
}

var fuzzSrv struct {
	once sync.Once
	s    *Server
	k    *fakeKernel
	dir  string
}

// TestMain removes the fuzz server's socket directory; each fuzz worker
// process makes its own.
func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzSrv.dir != "" {
		os.RemoveAll(fuzzSrv.dir)
	}
	os.Exit(code)
}

// FuzzConn feeds arbitrary bytes, after the banner, to a live connection of
// a shared server, then checks that the server still serves a well-behaved
// client and that the fuzzed connection's process is released.
func FuzzConn(f *testing.F) {
	guest := encodeFrame(header{class: classReq, typ: typeHandshake,
		arg: hsGuest, reqno: 1}, []byte("fuzz\x00"))
	sys := func(num uint32, words ...uint64) []byte {
		b := make([]byte, 8*len(words))
		for i, w := range words {
			order.PutUint64(b[8*i:], w)
		}
		return encodeFrame(header{class: classReq, typ: typeSyscall,
			arg: num, reqno: 2}, b)
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	f.Add([]byte{})
	f.Add(guest)
	f.Add(cat(guest, sys(sysGetpid)))
	f.Add(cat(guest, sys(sysWrite, 0, 0x1000, 64)))
	f.Add(cat(guest, sys(sysOpen, 0x1000),
		encodeFrame(header{class: classResp, reqno: 0}, []byte("a\x00"))))
	f.Add(cat(guest, encodeFrame(header{class: classReq, typ: typePrefork,
		reqno: 3}, nil)))
	f.Add(cat(guest, encodeFrame(header{class: classReq,
		typ: typeHandshake, arg: hsExec, reqno: 4}, []byte("x"))))
	f.Add(encodeFrame(header{class: classReq, typ: typeHandshake,
		arg: hsFork}, make([]byte, forkHSSize)))
	f.Add(cat(guest, encodeFrame(header{class: 7, reqno: 5}, []byte("zz"))))

	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzSrv.once.Do(func() {
			k := newFakeKernel()
			k.noReboot = true
			dir, err := os.MkdirTemp("", "rumpsp-fuzz")
			if err != nil {
				t.Fatal(err)
			}
			s, err := Start(k, Config{URL: "unix://" +
				dir + "/fuzz.sock",
				HandshakeTimeout: 100 * time.Millisecond,
				PreforkTimeout:   100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			k.srvp.Store(s)
			fuzzSrv.s, fuzzSrv.k, fuzzSrv.dir = s, k, dir
		})
		s := fuzzSrv.s
		nc, err := net.Dial("unix", s.ep.addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		nc.Write(in)
		nc.(*net.UnixConn).CloseWrite()
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := br.ReadByte(); err != nil {
				break
			}
		}
		nc.Close()

		c := dialServer(t, s)
		c.guest("check")
		if e, r, ok := c.syscall(sysEcho, 3, 4); !ok || e != 0 ||
			r != [2]int64{3, 4} {
			t.Fatal("server no longer serves")
		}
		c.close()
		eventually(t, "release", func() bool {
			return s.NumClients() == 0 && fuzzSrv.k.nprocs() == 0
		})
	})
}
