# tests/attack: the hardening suite. Untrusted clients attack the demo
# server (the Go archive with the demo kernel) over a unix socket; see
# docs/hardening.md. Included by the top-level Makefile.

.PHONY: attack-test

# RUMPSP_DEMOSERVER makes a missing binary an error rather than a skip.
attack-test: $(DEMO_SERVER)
	RUMPSP_DEMOSERVER=$(DEMO_SERVER) $(GO) test -race -count=1 ./tests/attack/
