// Command abicheck verifies that rumpsp can stand in for NetBSD's
// rumpuser_sp.c on the host target.
//
// It parses include/rump/rumpuser.h with the host compiler's predefined
// macros and include paths and checks the sysproxy prototypes, the layout
// of struct rumpuser_hyperup and the interface constants against
// interface version 17. Given -archive, it checks the symbol table of the
// built librumpsp.a: the exports are there, rumpuser__hyp is left to the
// hypervisor layer, and no other global can collide with a rump kernel,
// libc or the program. Given -upstream, it reports every difference
// between NetBSD's rumpuser.h and ours in the declarations rumpsp uses.
//
// Each problem is one line on standard output; the exit status is 1 if
// there was any, 2 if something could not be read at all.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// options are the command-line settings of one run.
type options struct {
	header   string
	archive  string
	upstream string
}

func main() {
	var o options
	flag.StringVar(&o.header, "header", "include/rump/rumpuser.h",
		"rumpuser.h to check")
	flag.StringVar(&o.archive, "archive", "",
		"librumpsp.a whose symbol table to check")
	flag.StringVar(&o.upstream, "upstream", "",
		"NetBSD rumpuser.h to compare the header with")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(o, os.Stdout, os.Stderr))
}

// run performs the checks o asks for, printing problems to out and
// failures to read anything to errOut, and returns the exit status.
func run(o options, out, errOut io.Writer) int {
	lines, err := check(o)
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	if err != nil {
		fmt.Fprintln(errOut, "abicheck:", err)
		return 2
	}
	if len(lines) > 0 {
		return 1
	}
	return 0
}

// check runs every requested check and collects the problems found.
func check(o options) ([]string, error) {
	here, tgt, err := loadHeader(o.header, false)
	if err != nil {
		return nil, err
	}
	prefix := displayName(o.header)
	lines := compareModels(prefix, "expected", here, expected(tgt.ptrSize), true)

	if o.upstream != "" {
		up, _, err := loadHeader(o.upstream, true)
		if err != nil {
			return lines, err
		}
		lines = append(lines, compareModels(prefix, "upstream", here, up,
			false)...)
	}

	if o.archive != "" {
		syms, err := readArchive(o.archive)
		if err != nil {
			return lines, err
		}
		lines = append(lines, checkSymbols(displayName(o.archive), syms,
			uint64(tgt.intSize))...)
	}
	return lines, nil
}
