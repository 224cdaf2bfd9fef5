package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// hostileHTML is a file a caller might send: opened in duet's origin it
// would leave a mark in that origin's storage, which the app's page can
// read back.
const hostileHTML = `<!doctype html><p id="ran">ran</p><script>localStorage.setItem("duet.pwned", location.origin)</script>`

// TestReceivedFileCannotRun (issue 14, item 4): a text/html file received
// from the other side is saved from a blob: URL that no browser renders
// as a page, so its script cannot run in duet's origin (with its storage,
// camera permission and no CSP); and bidi controls in the sender's name
// and file name are not shown, so "\u202Egnp.exe" reads as gnp.exe.
func TestReceivedFileCannotRun(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	alice, bob := startCall(t, b, srv.URL())

	// Alice names herself and sends an HTML file whose name hides its
	// extension behind a right-to-left override.
	must(t, browsertest.Type(alice, "display-name", "Mal\u202Elory\u200F\n"))
	must(t, browsertest.Eval(alice, browsertest.TestID("display-name")+`.dispatchEvent(new Event("change")), true`, nil))
	must(t, browsertest.WaitFor(bob, `window.duet.remote().name !== ""`, stepTimeout))
	must(t, browsertest.Eval(alice, `(() => { const dt = new DataTransfer();
		dt.items.add(new File([`+jsString(hostileHTML)+`], "\u202Elmth.exe", {type: "text/html"}));
		const input = `+browsertest.TestID("file-input")+`; input.files = dt.files; input.dispatchEvent(new Event("change")); return true; })()`, nil))
	must(t, browsertest.WaitFor(bob, `window.duet.files().length === 1 && window.duet.files()[0].state === "done"`, connectTimeout))

	var shown struct{ Name, File, Download, Href string }
	must(t, browsertest.Eval(bob, `({name: `+browsertest.TestID("remote-name")+`.textContent,
		file: document.querySelector(".file-name").textContent,
		download: `+browsertest.TestID("file-save")+`.download, href: `+browsertest.TestID("file-save")+`.href})`, &shown))
	for what, s := range map[string]string{"remote-name": shown.Name, "file name": shown.File, "download name": shown.Download} {
		if strings.ContainsAny(s, "\u202E\u200F\n") {
			t.Errorf("%s %q keeps a bidi or control character", what, s)
		}
	}
	if shown.Name != "Mallory" || !strings.Contains(shown.File, "lmth.exe") || shown.Download != "lmth.exe" {
		t.Errorf("shown: name %q, file %q, download %q; want Mallory and lmth.exe", shown.Name, shown.File, shown.Download)
	}

	// Opened as a person would open the saved link in a new tab of the
	// same browser (same origin, same storage): nothing may run.
	tab := b.NewPage(t, browsertest.PageName("opened"))
	navErr := browsertest.Navigate(tab, shown.Href)
	var ran bool
	if navErr == nil {
		must(t, browsertest.Eval(tab, `!!document.getElementById("ran")`, &ran))
	}
	var mark *string
	must(t, browsertest.Eval(bob, `localStorage.getItem("duet.pwned")`, &mark))
	if ran || mark != nil {
		t.Errorf("the received HTML file was rendered (%v) and its script ran in %v", ran, mark)
	}
	t.Logf("opening the saved file's blob: URL: %v", navErr)
}

// jsString quotes s as a JavaScript string literal (JSON's is one).
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
