package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// goodTable is the symbol table of a correct archive as the Go toolchain
// lays one out: the exports in the cgo export object, runtime/cgo's C
// objects, and go.o, whose Go symbols are local except a few.
func goodTable() []symbol {
	var syms []symbol
	for _, name := range spFuncs {
		syms = append(syms, symbol{name: name, object: "000000.o",
			defined: true, typ: elf.STT_FUNC, size: 40})
	}
	for _, name := range spInts {
		syms = append(syms, symbol{name: name, object: "go.o",
			defined: true, typ: elf.STT_OBJECT, size: 4})
	}
	for _, s := range []struct {
		name, object string
		typ          elf.SymType
	}{
		{"_cgo_panic", "go.o", elf.STT_FUNC},
		{"_cgoexp_0123456789ab_rumpuser_sp_init", "go.o", elf.STT_FUNC},
		{"crosscall2", "go.o", elf.STT_FUNC},
		{"_cgo_0123456789ab_Cfunc_rumpsp_call", "000001.o", elf.STT_FUNC},
		{"x_cgo_init", "000009.o", elf.STT_FUNC},
		{"x_cgo_inittls", "000009.o", elf.STT_OBJECT},
		{"x_crosscall2_ptr", "000008.o", elf.STT_OBJECT},
		{"crosscall1", "000004.o", elf.STT_FUNC},
		{"rumpsp_cgo_fatalf", "000007.o", elf.STT_FUNC},
		{"rumpsp_start_runtime", "000002.o", elf.STT_FUNC},
		{"runtime.text", "go.o", elf.STT_FUNC},
	} {
		syms = append(syms, symbol{name: s.name, object: s.object,
			defined: true, typ: s.typ, size: 8})
	}
	for _, name := range []string{hypSymbol, "malloc", "pthread_create",
		"rump_syscall"} {
		syms = append(syms, symbol{name: name, object: "000001.o"})
	}
	return syms
}

func TestSymbolTables(t *testing.T) {
	const p = "lib.a: "
	tests := []struct {
		name   string
		change func([]symbol) []symbol
		want   []string
	}{
		{
			name:   "good",
			change: func(s []symbol) []symbol { return s },
		},
		{
			name: "libc clash",
			change: func(s []symbol) []symbol {
				return append(s, symbol{name: "malloc", object: "000003.o",
					defined: true, typ: elf.STT_FUNC})
			},
			want: []string{p + "malloc: defined global in 000003.o could " +
				"clash with libc or the program"},
		},
		{
			name: "libc variable clash",
			change: func(s []symbol) []symbol {
				return append(s, symbol{name: "environ", object: "go.o",
					defined: true, typ: elf.STT_OBJECT})
			},
			want: []string{p + "environ: defined global in go.o could " +
				"clash with libc or the program"},
		},
		{
			name: "runtime/cgo fatalf not renamed",
			change: func(s []symbol) []symbol {
				return append(drop(s, "rumpsp_cgo_fatalf"),
					symbol{name: "fatalf", object: "000007.o",
						defined: true, typ: elf.STT_FUNC})
			},
			want: []string{p + "fatalf: defined global in 000007.o could " +
				"clash with libc or the program"},
		},
		{
			name: "rump kernel clash",
			change: func(s []symbol) []symbol {
				return append(s, symbol{name: "rumpuser_getparam",
					object: "000003.o", defined: true, typ: elf.STT_FUNC})
			},
			want: []string{p + "rumpuser_getparam: defined global in " +
				"000003.o clashes with the rump kernel name space"},
		},
		{
			name: "missing function",
			change: func(s []symbol) []symbol {
				return drop(s, "rumpuser_sp_raise")
			},
			want: []string{p + "rumpuser_sp_raise: not defined"},
		},
		{
			name: "missing tunable",
			change: func(s []symbol) []symbol {
				return drop(s, "rumpsp_idleworker")
			},
			want: []string{p + "rumpsp_idleworker: not defined"},
		},
		{
			name: "hyp defined",
			change: func(s []symbol) []symbol {
				return append(drop(s, hypSymbol), symbol{name: hypSymbol,
					object: "000005.o", defined: true,
					typ: elf.STT_OBJECT, size: 168})
			},
			want: []string{p + "rumpuser__hyp: defined in 000005.o; the " +
				"hypervisor layer must define it"},
		},
		{
			name: "hyp never used",
			change: func(s []symbol) []symbol {
				return drop(s, hypSymbol)
			},
			want: []string{p + "rumpuser__hyp: never referenced"},
		},
		{
			name: "defined twice",
			change: func(s []symbol) []symbol {
				return append(s, symbol{name: "rumpuser_sp_fini",
					object: "000006.o", defined: true, typ: elf.STT_FUNC})
			},
			want: []string{p + "rumpuser_sp_fini: defined 2 times " +
				"(000000.o, 000006.o)"},
		},
		{
			name: "tunable of the wrong kind",
			change: func(s []symbol) []symbol {
				s = drop(s, "rumpsp_maxworker")
				return append(s, symbol{name: "rumpsp_maxworker",
					object: "go.o", defined: true, typ: elf.STT_FUNC,
					size: 8})
			},
			want: []string{
				p + "rumpsp_maxworker: symbol type STT_FUNC, want STT_OBJECT",
				p + "rumpsp_maxworker: size 8, want 4 (int)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkSymbols("lib.a", tc.change(goodTable()), 4)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("complaints:\n%s\nwant:\n%s",
					strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// drop removes every symbol called name.
func drop(syms []symbol, name string) []symbol {
	var out []symbol
	for _, s := range syms {
		if s.name != name {
			out = append(out, s)
		}
	}
	return out
}

// fixtureExports defines the archive's exports in C, the way the cgo
// export object does, and uses the kernel's table.
const fixtureExports = `
#include <stddef.h>
struct lwp;
extern char rumpuser__hyp[];
int rumpsp_maxworker = 128;
int rumpsp_idleworker = 16;
int rumpuser_sp_init(const char *u, const char *o, const char *r,
    const char *m) { return rumpuser__hyp[0]; }
int rumpuser_sp_copyin(void *a, const void *r, void *l, size_t n)
{ return 0; }
int rumpuser_sp_copyinstr(void *a, const void *r, void *l, size_t *n)
{ return 0; }
int rumpuser_sp_copyout(void *a, const void *l, void *r, size_t n)
{ return 0; }
int rumpuser_sp_copyoutstr(void *a, const void *l, void *r, size_t *n)
{ return 0; }
int rumpuser_sp_anonmmap(void *a, size_t n, void **p) { return 0; }
int rumpuser_sp_raise(void *a, int s) { return 0; }
void rumpuser_sp_fini(void *a) { }
static int helper(void) { return 1; }
int x_cgo_fixture(void) { return helper(); }
`

// buildArchive compiles each named C source into an object and archives
// them with the host ar, which writes the same format as the one that
// builds librumpsp.a.
func buildArchive(t *testing.T, sources map[string]string) string {
	t.Helper()
	cc, ar := os.Getenv("CC"), os.Getenv("AR")
	if cc == "" {
		cc = "gcc"
	}
	if ar == "" {
		ar = "ar"
	}
	for _, tool := range []string{cc, ar} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	lib := filepath.Join(dir, "libfixture.a")
	args := []string{"rcs", lib}
	for name, src := range sources {
		c := filepath.Join(dir, name+".c")
		o := filepath.Join(dir, name+".o")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(cc, "-c", "-fPIC", "-o", o, c).
			CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cc, err, out)
		}
		args = append(args, o)
	}
	if out, err := exec.Command(ar, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", ar, err, out)
	}
	return lib
}

func TestRealArchive(t *testing.T) {
	// The long member name makes ar use its long-name table.
	lib := buildArchive(t, map[string]string{
		"exports_with_a_long_member_name": fixtureExports,
		"short": "int read(int fd, void *b, unsigned long n) " +
			"{ return -1; }\nint rumpsp_debug;\n",
	})
	lines, rc := runCheck(t, options{header: ourHeader, archive: lib})
	want := []string{lib + ": read: defined global in short.o could " +
		"clash with libc or the program"}
	if rc != 1 || !reflect.DeepEqual(lines, want) {
		t.Errorf("rc %d, complaints:\n%s\nwant:\n%s", rc,
			strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	syms, err := readArchive(lib)
	if err != nil {
		t.Fatal(err)
	}
	var long bool
	for _, s := range syms {
		if s.name == "rumpuser_sp_init" {
			long = s.object == "exports_with_a_long_member_name.o"
		}
	}
	if !long {
		t.Errorf("long member name not resolved: %+v", syms)
	}
}

func TestNotAnArchive(t *testing.T) {
	f := filepath.Join(t.TempDir(), "lib.a")
	if err := os.WriteFile(f, []byte("not an archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readArchive(f); err == nil {
		t.Fatal("no error for a file that is not an archive")
	}
}
