package main

import (
	"fmt"
	"strings"
)

// wantVersion is the rumpuser interface version the archive implements.
const wantVersion = "17"

// wantFuncs are the version-17 prototypes of the sysproxy entry points,
// spelled as cdecl spells them.
var wantFuncs = map[string]*signature{
	"rumpuser_sp_init": {result: "int", params: []string{
		"const char *", "const char *", "const char *", "const char *"}},
	"rumpuser_sp_copyin": {result: "int", params: []string{
		"void *", "const void *", "void *", "size_t"}},
	"rumpuser_sp_copyinstr": {result: "int", params: []string{
		"void *", "const void *", "void *", "size_t *"}},
	"rumpuser_sp_copyout": {result: "int", params: []string{
		"void *", "const void *", "void *", "size_t"}},
	"rumpuser_sp_copyoutstr": {result: "int", params: []string{
		"void *", "const void *", "void *", "size_t *"}},
	"rumpuser_sp_anonmmap": {result: "int", params: []string{
		"void *", "size_t", "void **"}},
	"rumpuser_sp_raise": {result: "int", params: []string{
		"void *", "int"}},
	"rumpuser_sp_fini": {result: "void", params: []string{"void *"}},
}

// wantHyperup lists the members of struct rumpuser_hyperup in order with
// their types; every one of them is pointer sized.
var wantHyperup = []struct{ name, typ string }{
	{"hyp_schedule", "void (*)(void)"},
	{"hyp_unschedule", "void (*)(void)"},
	{"hyp_backend_unschedule", "void (*)(int, int *, void *)"},
	{"hyp_backend_schedule", "void (*)(int, void *)"},
	{"hyp_lwproc_switch", "void (*)(struct lwp *)"},
	{"hyp_lwproc_release", "void (*)(void)"},
	{"hyp_lwproc_rfork", "int (*)(void *, int, const char *)"},
	{"hyp_lwproc_newlwp", "int (*)(pid_t)"},
	{"hyp_lwproc_curlwp", "struct lwp *(*)(void)"},
	{"hyp_syscall", "int (*)(int, void *, long *)"},
	{"hyp_lwpexit", "void (*)(void)"},
	{"hyp_execnotify", "void (*)(const char *)"},
	{"hyp_getpid", "pid_t (*)(void)"},
	{"hyp__extra", "void *[8]"},
}

// hypExtraSlots is the length of the hyp__extra array.
const hypExtraSlots = 8

// wantRFFD are the rfork flag values of rump.h.
var wantRFFD = map[string]string{
	"RUMP_RFFD_SHARE": "0",
	"RUMP_RFFD_COPY":  "1",
	"RUMP_RFFD_CLEAR": "2",
}

// expected builds the model a correct header has on a target with
// pointers of ptrSize bytes: each member sits right after the previous
// one because all of them are pointers.
func expected(ptrSize int64) *model {
	m := &model{
		version: wantVersion,
		macros:  wantRFFD,
		funcs:   wantFuncs,
	}
	for i, w := range wantHyperup {
		m.hyp = append(m.hyp, member{name: w.name, typ: w.typ,
			offset: int64(i) * ptrSize})
	}
	m.hypSize = int64(len(wantHyperup)-1+hypExtraSlots) * ptrSize
	return m
}

// comparison collects the differences between our header ("here") and
// a reference, one line each.
type comparison struct {
	prefix string // names what is compared, e.g. the header path
	ref    string // names the reference: "expected" or "upstream"
	lines  []string
}

// differ records one difference.
func (c *comparison) differ(what string, here, ref any) {
	c.lines = append(c.lines, fmt.Sprintf("%s: %s: here %v, %s %v",
		c.prefix, what, here, c.ref, ref))
}

// note records a difference that is not a pair of values.
func (c *comparison) note(format string, args ...any) {
	c.lines = append(c.lines, c.prefix+": "+fmt.Sprintf(format, args...))
}

// compareModels reports every difference between here and ref in the
// declarations the archive uses; macros only when withMacros is set,
// because NetBSD keeps the rfork flags in rump.h, not rumpuser.h.
func compareModels(prefix, refName string, here, ref *model,
	withMacros bool) []string {
	c := &comparison{prefix: prefix, ref: refName}

	switch {
	case here.version == "" && ref.version != "":
		c.note("RUMPUSER_VERSION: not defined here, %s %s", refName,
			ref.version)
	case here.version != "" && ref.version == "":
		c.note("RUMPUSER_VERSION: not defined %s", refName)
	case here.version != ref.version:
		c.differ("RUMPUSER_VERSION", here.version, ref.version)
	}

	if withMacros {
		for _, name := range rffdMacros {
			h, hok := here.macros[name]
			r := ref.macros[name]
			switch {
			case !hok:
				c.note("%s: not defined here, %s %s", name, refName, r)
			case h != r:
				c.differ(name, h, r)
			}
		}
	}

	for _, name := range spFuncs {
		compareFunc(c, name, here.funcs[name], ref.funcs[name])
	}
	compareHyperup(c, here, ref)
	return c.lines
}

// compareFunc reports how two declarations of one function differ.
func compareFunc(c *comparison, name string, here, ref *signature) {
	switch {
	case here == nil && ref == nil:
		return
	case here == nil:
		c.note("%s: not declared here", name)
		return
	case ref == nil:
		c.note("%s: not declared %s", name, c.ref)
		return
	}

	if here.result != ref.result {
		c.differ(name+": return type", quote(here.result),
			quote(ref.result))
	}
	if len(here.params) != len(ref.params) {
		c.differ(name+": parameter count", len(here.params),
			len(ref.params))
	}
	for i := 0; i < min(len(here.params), len(ref.params)); i++ {
		if here.params[i] != ref.params[i] {
			c.differ(fmt.Sprintf("%s: parameter %d", name, i+1),
				quote(here.params[i]), quote(ref.params[i]))
		}
	}
	if here.variadic != ref.variadic {
		c.differ(name+": variadic", here.variadic, ref.variadic)
	}
}

// compareHyperup reports missing, extra and misplaced members of struct
// rumpuser_hyperup, then type and offset differences of the members both
// sides have, then the size.
func compareHyperup(c *comparison, here, ref *model) {
	const what = "struct " + hyperupTag
	switch {
	case here.hyp == nil && ref.hyp == nil:
		return
	case here.hyp == nil:
		c.note("%s: not defined here", what)
		return
	case ref.hyp == nil:
		c.note("%s: not defined %s", what, c.ref)
		return
	}

	hereIdx := indexMembers(here.hyp)
	refIdx := indexMembers(ref.hyp)
	for _, m := range ref.hyp {
		if _, ok := hereIdx[m.name]; !ok {
			c.note("%s: member %s: missing here", what, m.name)
		}
	}
	for _, m := range here.hyp {
		if _, ok := refIdx[m.name]; !ok {
			c.note("%s: member %s: not in %s", what, m.name, c.ref)
		}
	}

	// Order is judged among the shared members only, so that one extra
	// or missing member is not also reported as moving all the others.
	var hereShared, refShared []string
	for _, m := range here.hyp {
		if _, ok := refIdx[m.name]; ok {
			hereShared = append(hereShared, m.name)
		}
	}
	for _, m := range ref.hyp {
		if _, ok := hereIdx[m.name]; ok {
			refShared = append(refShared, m.name)
		}
	}
	for i, name := range hereShared {
		if refShared[i] != name {
			c.differ(fmt.Sprintf("%s: member %s: position", what, name),
				hereIdx[name]+1, refIdx[name]+1)
		}
	}

	for _, h := range here.hyp {
		j, ok := refIdx[h.name]
		if !ok {
			continue
		}
		r := ref.hyp[j]
		if h.typ != r.typ {
			c.differ(fmt.Sprintf("%s: member %s: type", what, h.name),
				quote(h.typ), quote(r.typ))
		}
		if h.offset != r.offset {
			c.differ(fmt.Sprintf("%s: member %s: offset", what, h.name),
				h.offset, r.offset)
		}
	}
	if here.hypSize != ref.hypSize {
		c.differ(what+": size", here.hypSize, ref.hypSize)
	}
}

// indexMembers maps member names to their positions.
func indexMembers(ms []member) map[string]int {
	idx := make(map[string]int, len(ms))
	for i, m := range ms {
		idx[m.name] = i
	}
	return idx
}

// quote marks a C type off from the message around it.
func quote(s string) string {
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}
