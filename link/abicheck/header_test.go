package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// ourHeader is the project's header, relative to this package.
const ourHeader = "../../include/rump/rumpuser.h"

// upstreamFixture mimics the shape of NetBSD's rumpuser.h.
const upstreamFixture = "testdata/upstream_rumpuser.h"

// ptr is the size of a C pointer, which on every Go target equals Go's.
var ptr = int64(unsafe.Sizeof(uintptr(0)))

// alter writes a copy of src with each old→new replacement applied to a
// temporary directory and returns its path. Each old must occur exactly
// once, so a test cannot silently stop testing what it claims to.
func alter(t *testing.T, src string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := strings.Count(text, pairs[i]); n != 1 {
			t.Fatalf("%q occurs %d times in %s", pairs[i], n, src)
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	out := filepath.Join(t.TempDir(), "rumpuser.h")
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// runCheck runs the checker like the command does and returns its
// complaint lines and exit status.
func runCheck(t *testing.T, o options) ([]string, int) {
	t.Helper()
	var out, errOut strings.Builder
	rc := run(o, &out, &errOut)
	if rc == 2 {
		t.Fatalf("checker failed: %s", errOut.String())
	}
	text := strings.TrimSpace(out.String())
	if text == "" {
		return nil, rc
	}
	return strings.Split(text, "\n"), rc
}

func TestOurHeaderIsVersion17(t *testing.T) {
	lines, rc := runCheck(t, options{header: ourHeader})
	if rc != 0 || len(lines) != 0 {
		t.Fatalf("rc %d, complaints:\n%s", rc, strings.Join(lines, "\n"))
	}
}

func TestAlteredHeaders(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		want  []string // complaints after the "<path>: " prefix
	}{
		{
			name: "wrong parameter type",
			pairs: []string{"rumpuser_sp_raise(void *, int)",
				"rumpuser_sp_raise(void *, long)"},
			want: []string{
				`rumpuser_sp_raise: parameter 2: here "long", expected "int"`,
			},
		},
		{
			name: "missing const",
			pairs: []string{
				"rumpuser_sp_copyout(void *, const void *, void *, size_t)",
				"rumpuser_sp_copyout(void *, void *, void *, size_t)"},
			want: []string{
				`rumpuser_sp_copyout: parameter 2: here "void *", expected "const void *"`,
			},
		},
		{
			name: "missing const in a member",
			pairs: []string{"(*hyp_execnotify)(const char *)",
				"(*hyp_execnotify)(char *)"},
			want: []string{
				`struct rumpuser_hyperup: member hyp_execnotify: type: here "void (*)(char *)", expected "void (*)(const char *)"`,
			},
		},
		{
			name: "pointer level",
			pairs: []string{"rumpuser_sp_anonmmap(void *, size_t, void **)",
				"rumpuser_sp_anonmmap(void *, size_t, void *)"},
			want: []string{
				`rumpuser_sp_anonmmap: parameter 3: here "void *", expected "void **"`,
			},
		},
		{
			name:  "wrong return type",
			pairs: []string{"int\trumpuser_sp_raise", "void\trumpuser_sp_raise"},
			want: []string{
				`rumpuser_sp_raise: return type: here "void", expected "int"`,
			},
		},
		{
			name: "missing parameter",
			pairs: []string{"rumpuser_sp_copyin(void *, const void *, void *, size_t)",
				"rumpuser_sp_copyin(void *, const void *, void *)"},
			want: []string{
				`rumpuser_sp_copyin: parameter count: here 3, expected 4`,
			},
		},
		{
			name:  "missing prototype",
			pairs: []string{"void\trumpuser_sp_fini(void *);", ""},
			want:  []string{`rumpuser_sp_fini: not declared here`},
		},
		{
			name: "swapped members",
			pairs: []string{
				"void\t(*hyp_schedule)(void);\n\tvoid\t(*hyp_unschedule)(void);",
				"void\t(*hyp_unschedule)(void);\n\tvoid\t(*hyp_schedule)(void);"},
			want: []string{
				`struct rumpuser_hyperup: member hyp_unschedule: position: here 1, expected 2`,
				`struct rumpuser_hyperup: member hyp_schedule: position: here 2, expected 1`,
				fmt.Sprintf(`struct rumpuser_hyperup: member hyp_unschedule: offset: here 0, expected %d`, ptr),
				fmt.Sprintf(`struct rumpuser_hyperup: member hyp_schedule: offset: here %d, expected 0`, ptr),
			},
		},
		{
			name: "extra member",
			pairs: []string{"\tvoid\t*hyp__extra[8];",
				"\tvoid\t(*hyp_spare)(void);\n\tvoid\t*hyp__extra[8];"},
			want: []string{
				`struct rumpuser_hyperup: member hyp_spare: not in expected`,
				fmt.Sprintf(`struct rumpuser_hyperup: member hyp__extra: offset: here %d, expected %d`, 14*ptr, 13*ptr),
				fmt.Sprintf(`struct rumpuser_hyperup: size: here %d, expected %d`, 22*ptr, 21*ptr),
			},
		},
		{
			name:  "shorter spare array",
			pairs: []string{"*hyp__extra[8]", "*hyp__extra[7]"},
			want: []string{
				`struct rumpuser_hyperup: member hyp__extra: type: here "void *[7]", expected "void *[8]"`,
				fmt.Sprintf(`struct rumpuser_hyperup: size: here %d, expected %d`, 20*ptr, 21*ptr),
			},
		},
		{
			name: "wrong function pointer parameter",
			pairs: []string{"(*hyp_syscall)(int, void *, long *)",
				"(*hyp_syscall)(int, void *, int *)"},
			want: []string{
				`struct rumpuser_hyperup: member hyp_syscall: type: here "int (*)(int, void *, int *)", expected "int (*)(int, void *, long *)"`,
			},
		},
		{
			name:  "wrong version",
			pairs: []string{"RUMPUSER_VERSION 17", "RUMPUSER_VERSION 18"},
			want:  []string{`RUMPUSER_VERSION: here 18, expected 17`},
		},
		{
			name:  "version in hex is still 17",
			pairs: []string{"RUMPUSER_VERSION 17", "RUMPUSER_VERSION (0x11)"},
		},
		{
			name:  "wrong rfork flag",
			pairs: []string{"RUMP_RFFD_CLEAR\t2", "RUMP_RFFD_CLEAR\t4"},
			want:  []string{`RUMP_RFFD_CLEAR: here 4, expected 2`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := alter(t, ourHeader, tc.pairs...)
			lines, rc := runCheck(t, options{header: file})
			var want []string
			for _, w := range tc.want {
				want = append(want, file+": "+w)
			}
			if !reflect.DeepEqual(lines, want) {
				t.Errorf("complaints:\n%s\nwant:\n%s",
					strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			if (rc != 0) != (len(want) != 0) {
				t.Errorf("exit status %d with %d complaints", rc, len(want))
			}
		})
	}
}

func TestUpstreamMatches(t *testing.T) {
	lines, rc := runCheck(t, options{header: ourHeader,
		upstream: upstreamFixture})
	if rc != 0 || len(lines) != 0 {
		t.Fatalf("rc %d, complaints:\n%s", rc, strings.Join(lines, "\n"))
	}
}

func TestUpstreamDifferences(t *testing.T) {
	// An older upstream: version 16, the kernel table handed to
	// rumpuser_sp_init, register_t in the syscall upcall, no raise, and
	// a struct with a member we do not have.
	up := alter(t, upstreamFixture,
		"RUMPUSER_VERSION 17", "RUMPUSER_VERSION 16",
		"int\trumpuser_sp_init(const char *,",
		"struct rumpuser_sp_ops;\nint\trumpuser_sp_init(const char *, const struct rumpuser_sp_ops *,",
		"int (*hyp_syscall)(int, void *, long *);",
		"int (*hyp_syscall)(int, void *, register_t *);",
		"int\trumpuser_sp_raise(void *, int);", "",
		"\tvoid *hyp__extra[8];", "\tint hyp_flags;\n\tvoid *hyp__extra[8];",
	)
	lines, rc := runCheck(t, options{header: ourHeader, upstream: up})
	p := "../../include/rump/rumpuser.h: "
	want := []string{
		p + `RUMPUSER_VERSION: here 17, upstream 16`,
		p + `rumpuser_sp_init: parameter count: here 4, upstream 5`,
		p + `rumpuser_sp_init: parameter 2: here "const char *", upstream "const struct rumpuser_sp_ops *"`,
		p + `rumpuser_sp_raise: not declared upstream`,
		p + `struct rumpuser_hyperup: member hyp_flags: missing here`,
		p + `struct rumpuser_hyperup: member hyp_syscall: type: here "int (*)(int, void *, long *)", upstream "int (*)(int, void *, register_t *)"`,
		p + fmt.Sprintf(`struct rumpuser_hyperup: member hyp__extra: offset: here %d, upstream %d`, 13*ptr, 14*ptr),
		p + fmt.Sprintf(`struct rumpuser_hyperup: size: here %d, upstream %d`, 21*ptr, 22*ptr),
	}
	if rc != 1 || !reflect.DeepEqual(lines, want) {
		t.Errorf("rc %d, complaints:\n%s\nwant:\n%s", rc,
			strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestUpstreamUnreadable(t *testing.T) {
	up := alter(t, upstreamFixture, "struct lwp;", "struct lwp; this is not C;")
	var out, errOut strings.Builder
	if rc := run(options{header: ourHeader, upstream: up}, &out,
		&errOut); rc != 2 {
		t.Fatalf("exit status %d, want 2; output %q", rc, out.String())
	}
	if !strings.Contains(errOut.String(), up) {
		t.Errorf("error does not name the file: %q", errOut.String())
	}
}
