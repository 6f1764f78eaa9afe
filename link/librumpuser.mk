# librumpuser.mk: build librumpuser with librumpsp.a in place of
# rumpuser_sp.o, as a static and as a shared library.
#
# Set, then include this file:
#
#	RUMPUSER_OBJS	librumpuser's objects; rumpuser_sp.o (and .pico,
#			.So, .lo variants) is dropped from the list
#	RUMPUSER_PIC_OBJS the same objects compiled position independent,
#			for the shared library (defaults to RUMPUSER_OBJS)
#	RUMPUSER_LIBDIR	where to put the libraries
#
# It provides the targets $(RUMPUSER_STATIC) (librumpuser.a) and
# $(RUMPUSER_SHARED) (librumpuser.so).  A program links the static one
# with "-lrumpuser $(RUMPSP_LDLIBS)"; the shared one records its own
# needs.
#
# The archive's objects are merged into one relocatable object,
# $(RUMPSP_OBJECT), with ld -r.  It takes rumpuser_sp.o's place in the
# static library as a single member, so that linking anything from it
# drags in all of the server, and in the shared library, where the
# linker would otherwise drop the archive members nothing in the
# library refers to yet (the Go runtime is reached only through the
# exported functions, which the kernel calls from another library).

include $(dir $(lastword $(MAKEFILE_LIST)))rumpsp.mk

# The rules below must not become the including Makefile's default goal.
RUMPSP_SAVED_GOAL := $(.DEFAULT_GOAL)

LD	?= ld
AR	?= ar
CC	?= cc

RUMPUSER_LIBDIR		?= .
RUMPUSER_PIC_OBJS	?= $(RUMPUSER_OBJS)
RUMPUSER_STATIC		= $(RUMPUSER_LIBDIR)/librumpuser.a
RUMPUSER_SHARED		= $(RUMPUSER_LIBDIR)/librumpuser.so
RUMPSP_OBJECT		= $(RUMPUSER_LIBDIR)/rumpsp.o

# What librumpuser is made of besides the server.
RUMPSP_NOT_SP = $(filter-out %/rumpuser_sp.o rumpuser_sp.o \
	%/rumpuser_sp.pico rumpuser_sp.pico %/rumpuser_sp.So rumpuser_sp.So \
	%/rumpuser_sp.lo rumpuser_sp.lo,$(1))

$(RUMPSP_OBJECT): $(RUMPSP_ARCHIVE)
	@mkdir -p $(@D)
	$(LD) -r -o $@ --whole-archive $(RUMPSP_ARCHIVE) --no-whole-archive

$(RUMPUSER_STATIC): $(call RUMPSP_NOT_SP,$(RUMPUSER_OBJS)) $(RUMPSP_OBJECT)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(RUMPUSER_SHARED): $(call RUMPSP_NOT_SP,$(RUMPUSER_PIC_OBJS)) \
    $(RUMPSP_ARCHIVE)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,librumpuser.so -o $@ \
	    $(call RUMPSP_NOT_SP,$(RUMPUSER_PIC_OBJS)) \
	    -Wl,--whole-archive $(RUMPSP_ARCHIVE) -Wl,--no-whole-archive \
	    $(RUMPSP_LDLIBS)

.DEFAULT_GOAL := $(RUMPSP_SAVED_GOAL)
