# xen.mk: link librumpsp.a into a rumpuser-xen style build in place of
# the C sysproxy.c.
#
# Include it from the build's Makefile after the rump-src-y list is
# complete and before RUMP_OBJS is computed from it:
#
#	CONFIG_SYSPROXY ?= no
#	rump-src-y += ...
#	include $(RUMPSP)/share/rumpsp/xen.mk
#	RUMP_OBJS := $(patsubst %.c,$(OBJ_DIR)/%.o,$(rump-src-y))
#
# and add $(RUMPSP_XEN_LINK) to the final link after the objects (it is
# also appended to LDLIBS for builds that link with that).  With
# CONFIG_SYSPROXY=y this defines RUMP_SYSPROXY for the C sources, so the
# init code starts the server and rumphyper_stubs.c leaves out its
# not-supported stubs of rumpuser_sp_*, takes sysproxy.c out of
# rump-src-y if the build still lists it, and links the archive.  With
# any other value it does nothing and the stubs stay.

include $(dir $(lastword $(MAKEFILE_LIST)))rumpsp.mk

RUMPSP_XEN_LINK :=

ifeq ($(CONFIG_SYSPROXY),y)

# The archive replaces the C implementation; building both would define
# every rumpuser_sp_* twice.
rump-src-y := $(filter-out sysproxy.c,$(rump-src-y))

ifeq ($(filter -DRUMP_SYSPROXY,$(CPPFLAGS)),)
CPPFLAGS += -DRUMP_SYSPROXY
endif

RUMPSP_XEN_LINK := $(RUMPSP_ARCHIVE) $(RUMPSP_LDLIBS)
LDLIBS += $(RUMPSP_XEN_LINK)

endif
