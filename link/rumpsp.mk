# rumpsp.mk: where librumpsp.a and its headers are, and what linking it
# needs.  Included by xen.mk and librumpuser.mk; a build of its own can
# include it directly.
#
# Installed, this file lives in PREFIX/share/rumpsp and finds the rest of
# the installation relative to itself, so the tree can be moved.  Set
# RUMPSP_PREFIX (or RUMPSP_ARCHIVE and RUMPSP_INCLUDE) before including
# it to use another location, such as a source tree's build directory.

ifndef RUMPSP_MK_INCLUDED
RUMPSP_MK_INCLUDED := 1

# Immediately, while this file is still the last one make has read.
RUMPSP_FRAGMENT_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

RUMPSP_PREFIX	?= $(abspath $(RUMPSP_FRAGMENT_DIR)/../..)
RUMPSP_ARCHIVE	?= $(RUMPSP_PREFIX)/lib/librumpsp.a
RUMPSP_INCLUDE	?= $(RUMPSP_PREFIX)/include/rumpsp

# The Go runtime inside the archive needs threads and dlopen's library
# from the host libc; everything else it uses is plain libc.
RUMPSP_LDLIBS	?= -lpthread -ldl

endif
