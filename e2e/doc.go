// Package e2e holds end-to-end tests of duet with real browsers: the real
// server in-process on port 0 and headless Chromium pages running the
// embedded web app, as two people would use it. Run them with
//
//	DUET_E2E=1 go test -race ./e2e
//
// Without Chromium they skip, unless DUET_E2E=1 makes that a failure.
package e2e
