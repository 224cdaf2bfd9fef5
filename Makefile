# The test command CI runs (.ci/run) and the README shows.
GO ?= go

.PHONY: test build run
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 15m ./...

build:
	$(GO) build -o bin/duet ./cmd/duet

run:
	$(GO) run ./cmd/duet
