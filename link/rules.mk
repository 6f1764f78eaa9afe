# link/rules.mk: the ABI checker, installation, and the proofs that the
# link fragments put librumpsp.a where rumpuser_sp.c used to be.

ABICHECK	= $(BUILD)/abicheck
LINK_TEST_DIR	= $(BUILD)/link-test

# Installed next to the archive: the fragments find it relative to
# themselves.  The headers go to include/rumpsp so that they do not
# replace a rump kernel installation's own rump/rumpuser.h.
INSTALL		?= install
LINK_FRAGMENTS	= $(CURDIR)/link/rumpsp.mk $(CURDIR)/link/xen.mk \
	$(CURDIR)/link/librumpuser.mk

.PHONY: link-test

$(ABICHECK): $(wildcard $(CURDIR)/link/abicheck/*.go) $(CURDIR)/go.mod
	@mkdir -p $(BUILD)
	$(GO) build -o $@ ./link/abicheck

# UPSTREAM=path/to/NetBSD/rumpuser.h adds a comparison with that header.
check-abi: $(ABICHECK) $(ARCHIVE)
	$(ABICHECK) -header $(CURDIR)/include/rump/rumpuser.h \
	    -archive $(ARCHIVE) $(if $(UPSTREAM),-upstream $(UPSTREAM))

install: $(ARCHIVE) $(ARCHIVE_HEADER)
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include/rumpsp/rump \
	    $(DESTDIR)$(PREFIX)/share/rumpsp
	$(INSTALL) -m 644 $(ARCHIVE) $(DESTDIR)$(PREFIX)/lib/librumpsp.a
	$(INSTALL) -m 644 $(CURDIR)/include/rump/rumpuser.h \
	    $(DESTDIR)$(PREFIX)/include/rumpsp/rump/rumpuser.h
	$(INSTALL) -m 644 $(ARCHIVE_HEADER) \
	    $(DESTDIR)$(PREFIX)/include/rumpsp/librumpsp.h
	$(INSTALL) -m 644 $(LINK_FRAGMENTS) $(CURDIR)/link/README.md \
	    $(DESTDIR)$(PREFIX)/share/rumpsp/

# Installs into a scratch prefix, moves it (the fragments must find the
# installation relative to themselves), builds the stand-in rumpuser-xen
# and librumpuser trees against it, and has a client served by each.
link-test: $(ARCHIVE) $(ARCHIVE_HEADER)
	rm -rf $(LINK_TEST_DIR)
	$(MAKE) --no-print-directory install PREFIX=$(LINK_TEST_DIR)/staged \
	    DESTDIR=
	mv $(LINK_TEST_DIR)/staged $(LINK_TEST_DIR)/prefix
	MAKE="$(MAKE)" CC="$(CC)" TOP=$(CURDIR) WORK=$(LINK_TEST_DIR) \
	    $(CURDIR)/tests/link/run.sh
