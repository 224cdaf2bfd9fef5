# The test command CI runs (.ci/run) and the README shows.
GO ?= go

# A count, not a duration: Go 1.26's fuzz coordinator can report "context
# deadline exceeded" as a failure when a duration runs out while a worker is
# mid-input (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline
# to race. 30,000 inputs is 1-6 s per target on the 2-core CI machine.
FUZZTIME ?= 30000x

.PHONY: test fuzz build run natlab
# test also runs each fuzz target briefly beyond its seed corpus.
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# fuzz runs every fuzz target for FUZZTIME inputs (make fuzz FUZZTIME=5000000x;
# a duration such as 10m works too, with the flake above).
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeClient$$' -fuzztime=$(FUZZTIME) ./protocol
	$(GO) test -run='^$$' -fuzz='^FuzzHubHandle$$' -fuzztime=$(FUZZTIME) ./internal/signal
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/peerjs
	$(GO) test -run='^$$' -fuzz='^FuzzFrames$$' -fuzztime=$(FUZZTIME) ./internal/wsconn
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/turncred
	$(GO) test -run='^$$' -fuzz='^FuzzSDP$$' -fuzztime=$(FUZZTIME) ./internal/whip

build:
	$(GO) build -o bin/duet ./cmd/duet

run:
	$(GO) run ./cmd/duet

# natlab runs the NAT lab (docs/natlab.md): duet serve and two duet peers
# behind nftables NATs in network namespaces it creates and removes. It
# needs root and skips otherwise; DUET_NATLAB=1 (CI) turns the skip into a
# failure. go test ./... skips it unless DUET_NATLAB is set.
DUET_NATLAB ?= auto
natlab:
	DUET_NATLAB=$(DUET_NATLAB) $(GO) test -race -count=1 -v -parallel 8 -timeout 5m ./internal/natlab
