package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// symbol is one global symbol of one object in the archive.
type symbol struct {
	name    string
	object  string // archive member that holds the symbol
	defined bool   // defined here (including common), or only referenced
	typ     elf.SymType
	size    uint64
}

// spInts are the tunables the archive exports as C ints, like the C file.
var spInts = []string{"rumpsp_maxworker", "rumpsp_idleworker"}

// hypSymbol is the kernel's upcall table, which the hypervisor layer
// defines and the archive only uses.
const hypSymbol = "rumpuser__hyp"

// goInternalPrefixes are name prefixes of the symbols that the Go
// toolchain puts into every c-archive: runtime/cgo's C part (_cgo_,
// x_cgo_, crosscall), cgo's generated glue (_cgo_<hash>_Cfunc_,
// _cgoexp_<hash>_), and entry points (_rt0_). None of them is a name a
// rump kernel or libc uses. rumpsp_ is this project's own prefix.
// runtime/cgo also defines a plain "fatalf"; it is deliberately not
// allowed, because a program may well have its own, so the archive build
// must rename it.
var goInternalPrefixes = []string{
	"_cgo_", "x_cgo_", "x_crosscall", "crosscall", "_cgoexp_", "__cgo",
	"_rt0_", "rumpsp_",
}

// rumpPrefixes are the name spaces of the rump kernel and its hypervisor
// layer: a global of the archive there would collide at link time.
var rumpPrefixes = []string{"rump_", "rumpns_", "rumpuser", "rumpcomp_"}

// checkSymbols reports what is wrong with the archive's symbol table:
// missing or duplicate exports, a definition of rumpuser__hyp, and any
// other defined global that a program, libc or the kernel might also
// define. intSize is the size of a C int on the target.
func checkSymbols(prefix string, syms []symbol, intSize uint64) []string {
	var lines []string
	complain := func(format string, args ...any) {
		lines = append(lines, prefix+": "+fmt.Sprintf(format, args...))
	}

	defs := map[string][]symbol{}
	referenced := map[string]bool{}
	for _, s := range syms {
		if s.defined {
			defs[s.name] = append(defs[s.name], s)
		} else {
			referenced[s.name] = true
		}
	}

	want := map[string]elf.SymType{}
	for _, name := range spFuncs {
		want[name] = elf.STT_FUNC
	}
	for _, name := range spInts {
		want[name] = elf.STT_OBJECT
	}
	for _, name := range append(append([]string{}, spFuncs...), spInts...) {
		d := defs[name]
		switch {
		case len(d) == 0:
			complain("%s: not defined", name)
			continue
		case len(d) > 1:
			complain("%s: defined %d times (%s)", name, len(d),
				objects(d))
			continue
		}
		if d[0].typ != want[name] {
			complain("%s: symbol type %s, want %s", name, d[0].typ,
				want[name])
		}
		if want[name] == elf.STT_OBJECT && d[0].size != intSize {
			complain("%s: size %d, want %d (int)", name, d[0].size,
				intSize)
		}
	}

	if d := defs[hypSymbol]; len(d) > 0 {
		complain("%s: defined in %s; the hypervisor layer must "+
			"define it", hypSymbol, objects(d))
	} else if !referenced[hypSymbol] {
		complain("%s: never referenced", hypSymbol)
	}

	var names []string
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := want[name]; ok || name == hypSymbol {
			continue
		}
		switch clashKind(name) {
		case clashRump:
			complain("%s: defined global in %s clashes with the "+
				"rump kernel name space", name, objects(defs[name]))
		case clashLibc:
			complain("%s: defined global in %s could clash with "+
				"libc or the program", name, objects(defs[name]))
		}
	}
	return lines
}

// clash classifies what an unexpected global might collide with.
type clash int

const (
	clashNone clash = iota // a Go toolchain or rumpsp internal
	clashRump              // rump kernel or hypervisor name space
	clashLibc              // any other plain C name
)

// clashKind decides whether a defined global other than the exports is
// safe. Names with '.' or ':' cannot be written in C, so nothing in C
// can collide with them; Go's own symbols look like that.
func clashKind(name string) clash {
	for _, p := range rumpPrefixes {
		if strings.HasPrefix(name, p) {
			return clashRump
		}
	}
	if strings.ContainsAny(name, ".:") {
		return clashNone
	}
	for _, p := range goInternalPrefixes {
		if strings.HasPrefix(name, p) {
			return clashNone
		}
	}
	return clashLibc
}

// objects lists the archive members holding the given symbols.
func objects(syms []symbol) string {
	var names []string
	for _, s := range syms {
		names = append(names, s.object)
	}
	return strings.Join(names, ", ")
}

// arMagic opens every ar archive; "!<thin>\n" (thin archives) is not
// supported because the members live elsewhere.
const arMagic = "!<arch>\n"

// arHeaderSize is the size of an ar member header.
const arHeaderSize = 60

// readArchive returns the global symbols of every ELF object in the ar
// archive at file. Symbol-table and long-name members are skipped.
func readArchive(file string) ([]symbol, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, []byte(arMagic)) {
		return nil, fmt.Errorf("%s: not an ar archive", file)
	}

	var syms []symbol
	var longNames []byte
	off := len(arMagic)
	for off < len(data) {
		if off+arHeaderSize > len(data) {
			return nil, fmt.Errorf("%s: truncated member header at %d",
				file, off)
		}
		hdr := data[off : off+arHeaderSize]
		if string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("%s: bad member header at %d",
				file, off)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])),
			10, 64)
		if err != nil || size < 0 || int64(off+arHeaderSize)+size >
			int64(len(data)) {
			return nil, fmt.Errorf("%s: bad member size at %d", file, off)
		}
		body := data[off+arHeaderSize : off+arHeaderSize+int(size)]
		off += arHeaderSize + int(size) + int(size%2)

		name := strings.TrimRight(string(hdr[0:16]), " ")
		switch {
		case name == "/" || name == "/SYM64/" ||
			strings.HasPrefix(name, "__.SYMDEF"):
			continue
		case name == "//":
			longNames = body
			continue
		case strings.HasPrefix(name, "#1/"):
			// BSD: the name is stored at the start of the body.
			n, err := strconv.Atoi(name[3:])
			if err != nil || n > len(body) {
				return nil, fmt.Errorf("%s: bad BSD name %q", file, name)
			}
			name, body = strings.TrimRight(string(body[:n]), "\x00"), body[n:]
		case strings.HasPrefix(name, "/"):
			n, err := strconv.Atoi(name[1:])
			if err != nil || n >= len(longNames) {
				return nil, fmt.Errorf("%s: bad long name %q", file, name)
			}
			name = string(longNames[n:])
			if end := strings.Index(name, "/\n"); end >= 0 {
				name = name[:end]
			}
		default:
			name = strings.TrimSuffix(name, "/")
		}

		s, err := objectSymbols(name, body)
		if err != nil {
			return nil, fmt.Errorf("%s(%s): %w", file, name, err)
		}
		syms = append(syms, s...)
	}
	return syms, nil
}

// stbGNUUnique is GNU's binding for a global that the dynamic linker
// keeps unique process-wide; debug/elf has no name for it.
const stbGNUUnique = elf.STB_LOOS

// objectSymbols lists the global and weak symbols of one ELF object.
func objectSymbols(object string, body []byte) ([]symbol, error) {
	f, err := elf.NewFile(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}

	var syms []symbol
	for _, s := range all {
		switch elf.ST_BIND(s.Info) {
		case elf.STB_GLOBAL, elf.STB_WEAK, stbGNUUnique:
		default:
			continue
		}
		if s.Name == "" {
			continue
		}
		syms = append(syms, symbol{
			name:    s.Name,
			object:  object,
			defined: s.Section != elf.SHN_UNDEF,
			typ:     elf.ST_TYPE(s.Info),
			size:    s.Size,
		})
	}
	return syms, nil
}
