# The test command CI runs (.ci/run) and the README shows.
GO ?= go

FUZZTIME ?= 5s

.PHONY: test fuzz build run
# test also runs each fuzz target briefly beyond its seed corpus.
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# fuzz runs every fuzz target for FUZZTIME (make fuzz FUZZTIME=10m).
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeClient$$' -fuzztime=$(FUZZTIME) ./protocol
	$(GO) test -run='^$$' -fuzz='^FuzzHubHandle$$' -fuzztime=$(FUZZTIME) ./internal/signal
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/peerjs
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/turncred

build:
	$(GO) build -o bin/duet ./cmd/duet

run:
	$(GO) run ./cmd/duet
