package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/cc/v4"
)

// signature is a function type reduced to the C spelling of its parts,
// which is what the ABI promise is made in.
type signature struct {
	result   string
	params   []string
	variadic bool
}

// String renders s as a C abstract declarator of a function.
func (s *signature) String() string {
	params := strings.Join(s.params, ", ")
	switch {
	case s.variadic && params == "":
		params = "..."
	case s.variadic:
		params += ", ..."
	case params == "":
		params = "void"
	}
	return fmt.Sprintf("%s (%s)", s.result, params)
}

// member is one field of struct rumpuser_hyperup as laid out on the host.
type member struct {
	name   string
	typ    string
	offset int64
}

// model is what the checker knows of one rumpuser.h: only the
// declarations the archive depends on.
type model struct {
	// version is the replacement text of RUMPUSER_VERSION, "" if undefined.
	version string
	// macros holds the other object-like macros of interest by name.
	macros map[string]string
	// funcs holds the sysproxy prototypes by name; absent if undeclared.
	funcs map[string]*signature
	// hyp is the member list of struct rumpuser_hyperup, nil if the
	// struct is not defined.
	hyp []member
	// hypSize is the size of struct rumpuser_hyperup in bytes.
	hypSize int64
}

// spFuncs lists the functions the archive exports, in protocol.md order.
var spFuncs = []string{
	"rumpuser_sp_init",
	"rumpuser_sp_copyin",
	"rumpuser_sp_copyinstr",
	"rumpuser_sp_copyout",
	"rumpuser_sp_copyoutstr",
	"rumpuser_sp_anonmmap",
	"rumpuser_sp_raise",
	"rumpuser_sp_fini",
}

// rffdMacros are the rfork flag names the server passes to the kernel.
var rffdMacros = []string{"RUMP_RFFD_SHARE", "RUMP_RFFD_COPY", "RUMP_RFFD_CLEAR"}

// hyperupTag is the struct tag of the kernel's upcall table.
const hyperupTag = "rumpuser_hyperup"

// stubRoot is a directory name that exists only in stubFS. Searched last,
// it turns every #include that the host cannot satisfy into an empty
// file, so that a NetBSD header pulling in NetBSD-only headers can still
// be read for the declarations that do not depend on them.
const stubRoot = "/rumpsp-abicheck-stubs"

// stubFS serves an empty file for any path under stubRoot; cc falls back
// to the host file system for everything else.
type stubFS struct{}

// Open implements fs.FS.
func (stubFS) Open(name string) (fs.File, error) {
	if !strings.HasPrefix(name, stubRoot+"/") {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return emptyFile{name: path.Base(name)}, nil
}

// emptyFile is a stub header: a regular file with nothing in it.
type emptyFile struct{ name string }

func (f emptyFile) Stat() (fs.FileInfo, error) { return f, nil }
func (emptyFile) Read([]byte) (int, error)     { return 0, io.EOF }
func (emptyFile) Close() error                 { return nil }
func (f emptyFile) Name() string               { return f.name }
func (emptyFile) Size() int64                  { return 0 }
func (emptyFile) Mode() fs.FileMode            { return 0o444 }
func (emptyFile) ModTime() time.Time           { return time.Time{} }
func (emptyFile) IsDir() bool                  { return false }
func (emptyFile) Sys() any                     { return nil }

// upstreamPrelude makes NetBSD's header readable on a POSIX host: it asks
// for the sysproxy part (which NetBSD compiles only for librumpuser or
// with _RUMP_SYSPROXY), supplies the standard types that NetBSD expects
// its includer to have, and neutralises the NetBSD cdefs macros.
const upstreamPrelude = `
#define LIBRUMPUSER 1
#define _RUMP_SYSPROXY 1
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#ifndef __dead
#define __dead
#endif
#ifndef __printflike
#define __printflike(f, a)
#endif
#ifndef __unused
#define __unused
#endif
#ifndef __BEGIN_DECLS
#define __BEGIN_DECLS
#define __END_DECLS
#endif
`

// target holds the sizes of the host target's C types that the checks
// depend on.
type target struct {
	ptrSize int64
	intSize int64
}

// loadHeader parses the header at file for the host target and extracts
// its model. A foreign header (NetBSD's own) is read with the upstream
// prelude and with missing includes stubbed out.
func loadHeader(file string, foreign bool) (*model, target, error) {
	cfg, err := cc.NewConfig(runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return nil, target{}, fmt.Errorf("configuring the C front end: %w", err)
	}
	srcs := []cc.Source{
		{Name: "<predefined>", Value: cfg.Predefined},
		{Name: "<builtin>", Value: cc.Builtin},
	}
	if foreign {
		cfg.FS = stubFS{}
		cfg.IncludePaths = append(cfg.IncludePaths, stubRoot)
		cfg.SysIncludePaths = append(cfg.SysIncludePaths, stubRoot)
		srcs = append(srcs, cc.Source{Name: "<upstream-prelude>",
			Value: upstreamPrelude})
	}
	if _, err := os.Stat(file); err != nil {
		return nil, target{}, err
	}
	srcs = append(srcs, cc.Source{Name: file})

	ast, err := cc.Translate(cfg, srcs)
	if err != nil {
		return nil, target{}, fmt.Errorf("%s: %w", file, err)
	}
	ptr, okp := ast.ABI.Types[cc.Ptr]
	i, oki := ast.ABI.Types[cc.Int]
	if !okp || !oki {
		return nil, target{}, errors.New("no type sizes for this target")
	}
	return extract(ast), target{ptrSize: ptr.Size, intSize: i.Size}, nil
}

// extract reduces a translated header to its model.
func extract(ast *cc.AST) *model {
	m := &model{macros: map[string]string{}, funcs: map[string]*signature{}}
	if v, ok := macroText(ast, "RUMPUSER_VERSION"); ok {
		m.version = v
	}
	for _, name := range rffdMacros {
		if v, ok := macroText(ast, name); ok {
			m.macros[name] = v
		}
	}

	for _, name := range spFuncs {
		for _, n := range ast.Scope.Nodes[name] {
			d, ok := n.(*cc.Declarator)
			if !ok {
				continue
			}
			if ft, ok := d.Type().(*cc.FunctionType); ok {
				m.funcs[name] = funcSignature(ft)
				break
			}
		}
	}

	for _, n := range ast.Scope.Nodes[hyperupTag] {
		spec, ok := n.(*cc.StructOrUnionSpecifier)
		if !ok {
			continue
		}
		st, ok := spec.Type().(*cc.StructType)
		if !ok || st.IsIncomplete() {
			continue
		}
		m.hyp = []member{}
		for i := 0; i < st.NumFields(); i++ {
			f := st.FieldByIndex(i)
			m.hyp = append(m.hyp, member{
				name:   f.Name(),
				typ:    cdecl(f.Type(), ""),
				offset: f.Offset(),
			})
		}
		m.hypSize = st.Size()
		break
	}
	return m
}

// macroText returns the replacement list of an object-like macro with
// numeric literals normalised to decimal, so that 0x11 and (17) compare
// equal to 17.
func macroText(ast *cc.AST, name string) (string, bool) {
	mac, ok := ast.Macros[name]
	if !ok || mac.IsFnLike {
		return "", false
	}
	var b strings.Builder
	for _, t := range mac.ReplacementList() {
		b.WriteString(t.SrcStr())
	}
	text := b.String()
	lit := strings.TrimSuffix(strings.TrimPrefix(text, "("), ")")
	lit = strings.TrimRight(lit, "uUlL")
	if v, err := strconv.ParseInt(lit, 0, 64); err == nil {
		return strconv.FormatInt(v, 10), true
	}
	return text, true
}

// funcSignature reduces a function type to C spellings. A lone void
// parameter means "no parameters" and is dropped.
func funcSignature(ft *cc.FunctionType) *signature {
	s := &signature{result: cdecl(ft.Result(), ""), variadic: ft.IsVariadic()}
	for _, p := range ft.Parameters() {
		s.params = append(s.params, cdecl(p.Type(), ""))
	}
	if len(s.params) == 1 && s.params[0] == "void" {
		s.params = nil
	}
	return s
}

// cdecl spells t as a C abstract declarator; inner is the declarator
// text already built to the right of the type. Typedef names are kept
// (pid_t stays pid_t) because the header contract is written with them.
func cdecl(t cc.Type, inner string) string {
	if td := t.Typedef(); td != nil {
		return joinDecl(qualifiers(t)+td.Name(), inner)
	}
	switch x := t.(type) {
	case *cc.PointerType:
		star := "*"
		if q := strings.TrimSpace(qualifiers(x)); q != "" {
			star += " " + q
			if inner != "" {
				star += " "
			}
		}
		star += inner
		switch x.Elem().(type) {
		case *cc.FunctionType, *cc.ArrayType:
			star = "(" + star + ")"
		}
		return cdecl(x.Elem(), star)
	case *cc.ArrayType:
		n := ""
		if x.Len() >= 0 {
			n = strconv.FormatInt(x.Len(), 10)
		}
		return cdecl(x.Elem(), inner+"["+n+"]")
	case *cc.FunctionType:
		s := funcSignature(x)
		params := strings.TrimPrefix(s.String(), s.result+" ")
		return cdecl(x.Result(), inner+params)
	case *cc.StructType:
		return joinDecl(qualifiers(t)+"struct "+tagName(x.Tag()), inner)
	case *cc.UnionType:
		return joinDecl(qualifiers(t)+"union "+tagName(x.Tag()), inner)
	case *cc.EnumType:
		return joinDecl(qualifiers(t)+"enum "+tagName(x.Tag()), inner)
	default:
		return joinDecl(qualifiers(t)+t.Kind().String(), inner)
	}
}

// tagName spells a struct, union or enum tag; anonymous ones get a
// placeholder so the difference still shows.
func tagName(tok cc.Token) string {
	if s := tok.SrcStr(); s != "" {
		return s
	}
	return "<anonymous>"
}

// qualifiers spells the cv-qualifiers of t, each followed by a space.
func qualifiers(t cc.Type) string {
	a := t.Attributes()
	if a == nil {
		return ""
	}
	q := ""
	if a.IsConst() {
		q += "const "
	}
	if a.IsVolatile() {
		q += "volatile "
	}
	return q
}

// joinDecl puts a base type in front of the declarator built so far,
// writing "char *" rather than "char*" and "void (*)(void)" as C does.
func joinDecl(base, inner string) string {
	if inner == "" || strings.HasPrefix(inner, "[") {
		return base + inner
	}
	return base + " " + inner
}

// displayName shortens a path for messages when it is under the cwd.
func displayName(file string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, ok := strings.CutPrefix(file, wd+"/"); ok {
			return rel
		}
	}
	return path.Clean(file)
}
