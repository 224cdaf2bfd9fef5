package metrics

import (
	"encoding/json"
	"net/http"
	"time"
)

// Report is what a client sends to /api/call-report once per call: when it
// connected (or failed) and over which path. It carries no address, room or
// identity. Documented in docs/protocol.md.
type Report struct {
	Outcome string  `json:"outcome"` // "connected" or "failed"
	Path    string  `json:"path"`    // "direct", "relay" or "" (unknown, when failed)
	SetupMs float64 `json:"setupMs"` // join → connected (or → failed)
}

// maxReportBytes bounds a report body; a real one is under 100 bytes.
const maxReportBytes = 512

// ReportHandler accepts call reports (POST, JSON). Anything malformed is
// refused with 400 and counts nothing, so a hostile client can at worst add
// plausible numbers; allow limits how fast one address may do even that.
func (m *Metrics) ReportHandler(allow func(r *http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow != nil && !allow(r) {
			http.Error(w, "rate-limited", http.StatusTooManyRequests)
			return
		}
		var rep Report
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReportBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil || !m.record(rep) {
			http.Error(w, "bad-report", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (m *Metrics) record(rep Report) bool {
	if rep.SetupMs < 0 || rep.SetupMs > float64(10*time.Minute/time.Millisecond) {
		return false
	}
	switch {
	case rep.Outcome == "connected" && (rep.Path == "direct" || rep.Path == "relay"):
		m.callSetup.WithLabelValues(rep.Path).Observe(rep.SetupMs / 1000)
	case rep.Outcome == "failed" && rep.Path == "":
	default:
		return false
	}
	m.callOutcomes.WithLabelValues(rep.Outcome, rep.Path).Inc()
	return true
}
