package attack

// Frames that break the protocol's rules rather than its bounds. Each gets
// an ERROR frame or a close, and a debug line, and a bystander works on
// throughout, byte for byte.

import (
	"testing"
)

// TestReplyToNothing: a RESP or ERROR frame whose number matches no
// request of the server closes that connection, and only that one.
func TestReplyToNothing(t *testing.T) {
	s := startServer(t)
	by := startBystander(t, s, "bystander")
	for _, class := range []uint16{classResp, classError} {
		c := s.guest(t, "c")
		from := s.mark()
		c.send(hdr{reqno: 12345, class: class, typ: typeCopyin},
			make([]byte, 8))
		expectClosed(t, c)
		s.expectLog(t, from, "reply to no request")
	}
	by.finish(t)
}

// TestDuplicateReply: a second answer to a copy request that was already
// answered matches nothing any more; the first one counted.
func TestDuplicateReply(t *testing.T) {
	s := startServer(t)
	by := startBystander(t, s, "bystander")
	c := s.guest(t, "c")
	c.hook = func(c *client, f frame) bool {
		if f.h.typ != typeCopyinstr {
			return false
		}
		c.hook = nil
		h := hdr{reqno: f.h.reqno, class: classResp, typ: typeCopyinstr}
		c.send(h, []byte("carol\x00"))
		c.send(h, []byte("mallory\x00"))
		return true
	}
	from := s.mark()
	r, err := c.syscall(sysSetlogin, c.allocString("carol"))
	switch {
	case err == errClosed:
		// The close overtook the answer.
	case err != nil:
		t.Fatal(err)
	case r.errno != 0:
		t.Fatalf("__setlogin with the first reply: error %d", r.errno)
	default:
		expectClosed(t, c)
	}
	s.expectLog(t, from, "reply to no request")
	by.finish(t)
}

// TestServerOnlyRequestTypes: a client's REQ of a type only the server
// sends (or of no type at all) is answered ERROR MALFORMED_REQUEST, and
// the connection goes on working.
func TestServerOnlyRequestTypes(t *testing.T) {
	s := startServer(t)
	by := startBystander(t, s, "bystander")
	c := s.guest(t, "c")
	for _, typ := range []uint16{typeCopyin, typeCopyinstr, typeCopyout,
		typeCopyoutstr, typeAnonmmap, typeRaise, 9, 0xffff} {
		from := s.mark()
		r := c.newReq()
		c.send(hdr{reqno: r, class: classReq, typ: typ},
			make([]byte, copyDescSize))
		f, err := c.readFrame()
		if err != nil {
			t.Fatalf("type %d: %v", typ, err)
		}
		if f.h.class != classError || f.h.reqno != r ||
			f.h.arg != errMalformed {
			t.Fatalf("type %d answered %+v, want ERROR %d", typ,
				f.h, errMalformed)
		}
		s.expectLog(t, from, "server-only type")
		if _, err := c.ok(sysGetpid); err != nil {
			t.Fatalf("after type %d: %v", typ, err)
		}
	}
	by.finish(t)
}

// TestUnknownClass: a frame of a class that does not exist is answered
// ERROR MALFORMED_REQUEST, before and after the handshake, and the
// connection goes on.
func TestUnknownClass(t *testing.T) {
	s := startServer(t)
	by := startBystander(t, s, "bystander")
	for _, running := range []bool{false, true} {
		c := s.dial(t)
		if running {
			if err := c.guest("c"); err != nil {
				t.Fatal(err)
			}
		}
		for _, class := range []uint16{3, 0x8000, 0xffff} {
			from := s.mark()
			c.send(hdr{reqno: 77, class: class, typ: typeSyscall},
				make([]byte, 40))
			f, err := c.readFrame()
			if err != nil {
				t.Fatalf("class %d: %v", class, err)
			}
			if f.h.class != classError || f.h.reqno != 77 ||
				f.h.arg != errMalformed {
				t.Fatalf("class %d answered %+v", class, f.h)
			}
			s.expectLog(t, from, "unknown class")
		}
		if !running {
			if err := c.guest("c"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.ok(sysGetpid); err != nil {
			t.Fatal(err)
		}
	}
	by.finish(t)
}

// TestRequestsBeforeHandshake: anything but a GUEST or FORK handshake
// before the handshake is ERROR AUTH and a close; so is an AUTH or
// unknown handshake kind. A FORK handshake with an unknown cookie is
// INVALID_PREFORK, and one of the wrong size MALFORMED_REQUEST.
func TestRequestsBeforeHandshake(t *testing.T) {
	s := startServer(t)
	by := startBystander(t, s, "bystander")
	cases := []struct {
		name string
		h    hdr
		body []byte
		code uint32
	}{
		{"syscall", hdr{typ: typeSyscall, arg: sysGetpid}, nil, errAuth},
		{"prefork", hdr{typ: typePrefork}, nil, errAuth},
		{"copyin", hdr{typ: typeCopyin}, make([]byte, 16), errAuth},
		{"exec", hdr{typ: typeHandshake, arg: hsExec}, []byte("x\x00"),
			errAuth},
		{"auth", hdr{typ: typeHandshake, arg: hsAuth}, nil, errAuth},
		{"kind 99", hdr{typ: typeHandshake, arg: 99}, nil, errAuth},
		{"fork, unknown cookie", hdr{typ: typeHandshake, arg: hsFork},
			forkBody(make([]byte, cookieSize), false),
			errInvalidPrefork},
		{"fork, short body", hdr{typ: typeHandshake, arg: hsFork},
			make([]byte, 19), errMalformed},
	}
	for _, tc := range cases {
		c := s.dial(t)
		from := s.mark()
		tc.h.reqno, tc.h.class = 5, classReq
		c.send(tc.h, tc.body)
		fs := expectClosed(t, c)
		if len(fs) != 1 || fs[0].h.reqno != 5 ||
			fs[0].h.arg != tc.code {
			t.Errorf("%s: answered %v, want one ERROR %d", tc.name,
				fs, tc.code)
		}
		s.expectLog(t, from, "closing")
	}
	by.finish(t)
}
