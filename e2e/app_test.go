package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/duet-call/duet/internal/browsertest"
)

// newRoom is a fresh room id, as the app makes them.
func newRoom(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// visible is a JS expression: whether the element with that data-testid
// is shown (present, not hidden, laid out).
func visible(id string) string {
	return `(() => { const el = ` + browsertest.TestID(id) + `; return !!el && !el.hidden && el.getClientRects().length > 0; })()`
}

// startCall opens the same room in two pages and waits until both are
// connected with the chat channel open.
func startCall(t *testing.T, b *browsertest.Browser, base string) (alice, bob context.Context) {
	t.Helper()
	link := base + "/r/" + newRoom(t)
	alice = b.NewPage(t, browsertest.PageName("alice"))
	must(t, browsertest.Navigate(alice, link))
	waitState(t, alice, "waiting", stepTimeout)
	bob = b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, link))
	for _, p := range []context.Context{alice, bob} {
		waitState(t, p, "connected", connectTimeout)
		must(t, browsertest.WaitFor(p, `window.duet.chatOpen()`, stepTimeout))
	}
	return alice, bob
}

// TestCallControls: muting and turning the camera off, by button and by
// keyboard shortcut, show on the other side; a display name reaches the
// other side too.
func TestCallControls(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	alice, bob := startCall(t, b, srv.URL())

	// Before anything, the other side is neither muted nor dark.
	for _, id := range []string{"remote-muted", "remote-camera-off"} {
		var shown bool
		must(t, browsertest.Eval(bob, visible(id), &shown))
		if shown {
			t.Errorf("bob sees %s before alice did anything", id)
		}
	}

	must(t, browsertest.Click(alice, "mute-button"))
	must(t, browsertest.WaitFor(bob, visible("remote-muted"), stepTimeout))
	var mic struct {
		Enabled bool
		Pressed string
	}
	must(t, browsertest.Eval(alice, `({enabled: window.duet.pc().getSenders().find((s) => s.track && s.track.kind === "audio").track.enabled,
		pressed: `+browsertest.TestID("mute-button")+`.getAttribute("aria-pressed")})`, &mic))
	if mic.Enabled || mic.Pressed != "true" {
		t.Errorf("alice muted: sent audio track enabled=%v, mute-button aria-pressed=%q; want false, true", mic.Enabled, mic.Pressed)
	}
	must(t, browsertest.Click(alice, "mute-button"))
	must(t, browsertest.WaitFor(bob, `!`+visible("remote-muted"), stepTimeout))

	// The shortcuts: V for the camera, M for the microphone, typed as
	// real key presses with nothing focused.
	must(t, browsertest.Eval(alice, `document.activeElement && document.activeElement.blur(), true`, nil))
	_, err := chromedp.Run(alice, chromedp.KeyEvent("v"))
	must(t, err)
	must(t, browsertest.WaitFor(bob, visible("remote-camera-off"), stepTimeout))
	_, err = chromedp.Run(alice, chromedp.KeyEvent("m"))
	must(t, err)
	must(t, browsertest.WaitFor(bob, visible("remote-muted"), stepTimeout))
	_, err = chromedp.Run(alice, chromedp.KeyEvent("v"))
	must(t, err)
	must(t, browsertest.WaitFor(bob, `!`+visible("remote-camera-off")+` && `+visible("remote-muted"), stepTimeout))

	// Typed into the chat (open, as a person opens it), the same letters
	// are text, not shortcuts.
	must(t, browsertest.Click(alice, "chat-button"))
	must(t, browsertest.Eval(alice, browsertest.TestID("chat-input")+`.focus(), true`, nil))
	_, err = chromedp.Run(alice, chromedp.KeyEvent("m"))
	must(t, err)
	var state map[string]any
	must(t, browsertest.Eval(alice, `({value: `+browsertest.TestID("chat-input")+`.value,
		muted: !window.duet.pc().getSenders().find((s) => s.track && s.track.kind === "audio").track.enabled})`, &state))
	if state["value"] != "m" || state["muted"] != true {
		t.Errorf("m typed in the chat: input %q, still muted %v; want \"m\", true", state["value"], state["muted"])
	}

	// A display name, set in the call, labels alice's video and chat on
	// bob's side.
	must(t, browsertest.Click(alice, "devices-button"))
	must(t, browsertest.WaitFor(alice, visible("display-name"), stepTimeout))
	must(t, browsertest.Type(alice, "display-name", "Alice Liddell"))
	must(t, browsertest.Eval(alice, browsertest.TestID("display-name")+`.dispatchEvent(new Event("change")), true`, nil))
	must(t, browsertest.WaitFor(bob, visible("remote-name")+` && `+browsertest.TestID("remote-name")+`.textContent === "Alice Liddell"`, stepTimeout))
	sendChat(t, alice, "named line")
	must(t, browsertest.WaitFor(bob, `Array.from(`+browsertest.TestID("chat-log")+`.querySelectorAll("li.them .who")).some((w) => w.textContent === "Alice Liddell")`, stepTimeout))
	// The device pickers list the fake camera and microphone.
	var devices [2]int
	must(t, browsertest.Eval(alice, `[`+browsertest.TestID("camera-select")+`.options.length, `+browsertest.TestID("mic-select")+`.options.length]`, &devices))
	if devices[0] < 1 || devices[1] < 1 {
		t.Errorf("device pickers: %d cameras, %d microphones; want at least one each", devices[0], devices[1])
	}
}

// TestChatBothWays: lines typed on either side appear on the other, with
// the sender's own copy marked as "me".
func TestChatBothWays(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	alice, bob := startCall(t, b, srv.URL())
	sendChat(t, alice, "你好 from alice")
	waitChat(t, bob, "你好 from alice")
	sendChat(t, bob, "hello back from bob")
	waitChat(t, alice, "hello back from bob")
	var classes []string
	must(t, browsertest.Eval(alice, `Array.from(`+browsertest.TestID("chat-log")+`.children, (li) => li.className)`, &classes))
	if strings.Join(classes, ",") != "me,them" {
		t.Errorf("alice's chat log classes %v, want [me them]", classes)
	}
}

// fileJS makes a File of n pseudo-random bytes in the page (xorshift32
// from seed, little-endian words), which pseudoRandom repeats in Go.
const fileJS = `((n, seed, name) => { const w = new Uint32Array(n / 4); let x = seed;
	for (let i = 0; i < w.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; w[i] = x; }
	return new File([w], name, {type: "application/octet-stream"}); })`

func pseudoRandom(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed
	for i := 0; i < n; i += 4 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		binary.LittleEndian.PutUint32(b[i:], x)
	}
	return b
}

// pickFile puts a generated file in the page's file-input as a person
// choosing it would, and fires change.
func pickFile(t *testing.T, page context.Context, n int, seed uint32, name string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const dt = new DataTransfer(); dt.items.add(%s(%d, %d, %q));
		const input = %s; input.files = dt.files; input.dispatchEvent(new Event("change")); return true; })()`,
		fileJS, n, seed, name, browsertest.TestID("file-input"))
	must(t, browsertest.Eval(page, js, nil))
}

type transfer struct {
	ID, Dir, Name, State, Sha256, URL string
	Size, Done                        int
}

func transfers(t *testing.T, page context.Context) []transfer {
	t.Helper()
	var out []transfer
	must(t, browsertest.Eval(page, `window.duet.files()`, &out))
	return out
}

// watchProgress records, in the page, every percentage its file list
// showed, so the test can tell the bar moved rather than jumped.
const watchProgress = `(() => { window.seenPercent = new Set();
	new MutationObserver(() => { for (const li of ` + "document.querySelectorAll('[data-testid=\"file-transfer\"]')" + `) window.seenPercent.add(li.dataset.percent); })
		.observe(` + `document.querySelector('[data-testid="file-list"]')` + `, {subtree: true, attributes: true, childList: true}); return true; })()`

// TestFileTransfer: a 5 MB file goes from alice to bob in chunks; both
// progress bars reach 100 % through values in between, bob's SHA-256
// (crypto.subtle, over what arrived) matches the file's as Go computes
// it, and bob can save it. Then bigger files cancelled midway, once by
// the sender and once by the receiver, end cancelled on both sides, and
// chat still works.
func TestFileTransfer(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	alice, bob := startCall(t, b, srv.URL())

	const size = 5 << 20
	const seed = 0x9e3779b9
	sum := sha256.Sum256(pseudoRandom(size, seed))
	want := hex.EncodeToString(sum[:])
	for _, p := range []context.Context{alice, bob} {
		must(t, browsertest.Eval(p, watchProgress, nil))
	}
	pickFile(t, alice, size, seed, "five.bin")
	doneJS := `window.duet.files().length === 1 && window.duet.files()[0].state === "done"`
	must(t, browsertest.WaitFor(bob, doneJS, connectTimeout))
	must(t, browsertest.WaitFor(alice, doneJS, stepTimeout))

	got := transfers(t, bob)[0]
	if got.Dir != "in" || got.Name != "five.bin" || got.Size != size || got.Done != size {
		t.Errorf("bob's transfer %+v, want in, five.bin, %d of %d bytes", got, size, size)
	}
	if got.Sha256 != want {
		t.Errorf("bob's SHA-256 %s, want %s", got.Sha256, want)
	}
	if sent := transfers(t, alice)[0]; sent.Sha256 != want || sent.Done != size {
		t.Errorf("alice's transfer %+v, want %d bytes sent with SHA-256 %s", sent, size, want)
	}
	for _, p := range []context.Context{alice, bob} {
		var bar struct {
			Value, Max float64
			Percent    string
			Seen       []string
		}
		must(t, browsertest.Eval(p, `(() => { const li = document.querySelector('[data-testid="file-transfer"]'); const bar = li.querySelector("progress");
			return {value: bar.value, max: bar.max, percent: li.dataset.percent, seen: Array.from(window.seenPercent)}; })()`, &bar))
		between := 0
		for _, s := range bar.Seen {
			if s != "0" && s != "100" {
				between++
			}
		}
		if bar.Value != bar.Max || bar.Max != size || bar.Percent != "100" || between == 0 {
			t.Errorf("%s: progress %v of %v (%s %%), percentages seen %v; want full at %d with some in between",
				browsertest.Name(p), bar.Value, bar.Max, bar.Percent, bar.Seen, size)
		}
	}
	// What bob can save: a link to the bytes that were hashed, under the
	// file's name. (The page's CSP lets no script read a blob: URL back.)
	var save struct{ Href, Download string }
	must(t, browsertest.Eval(bob, `(() => { const a = document.querySelector('[data-testid="file-save"]');
		return {href: a.href, download: a.download}; })()`, &save))
	if !strings.HasPrefix(save.Href, "blob:") || save.Href != got.URL || save.Download != "five.bin" {
		t.Errorf("bob's save link %+v, want the transfer's blob URL %q as five.bin", save, got.URL)
	}

	// Cancel: alice's page clicks cancel once her bar shows 5 %.
	must(t, browsertest.Eval(alice, `(() => { new MutationObserver((_, obs) => {
		for (const li of document.querySelectorAll('[data-testid="file-transfer"][data-state="active"]')) {
			if (Number(li.dataset.percent) >= 5) { li.querySelector('[data-testid="file-cancel"]').click(); obs.disconnect(); }
		} }).observe(document.querySelector('[data-testid="file-list"]'), {subtree: true, attributes: true}); return true; })()`, nil))
	pickFile(t, alice, 64<<20, 7, "big.bin")
	cancelledJS := `window.duet.files().length === 2 && window.duet.files()[1].state === "cancelled"`
	must(t, browsertest.WaitFor(alice, cancelledJS, connectTimeout))
	must(t, browsertest.WaitFor(bob, cancelledJS, stepTimeout))
	if got := transfers(t, bob)[1]; got.URL != "" || got.Done >= got.Size {
		t.Errorf("bob's cancelled transfer %+v: want no save link and not every byte", got)
	}
	sendChat(t, bob, "after the cancel")
	waitChat(t, alice, "after the cancel")

	// The receiver cancels: bob's page clicks cancel at 5 % of an
	// incoming file; alice's sending stops and shows it.
	must(t, browsertest.Eval(bob, `(() => { new MutationObserver((_, obs) => {
		for (const li of document.querySelectorAll('[data-testid="file-transfer"][data-state="active"][data-dir="in"]')) {
			if (Number(li.dataset.percent) >= 5) { li.querySelector('[data-testid="file-cancel"]').click(); obs.disconnect(); }
		} }).observe(document.querySelector('[data-testid="file-list"]'), {subtree: true, attributes: true, childList: true}); return true; })()`, nil))
	pickFile(t, alice, 64<<20, 8, "refused.bin")
	cancelledJS = `window.duet.files().length === 3 && window.duet.files()[2].state === "cancelled"`
	must(t, browsertest.WaitFor(bob, cancelledJS, connectTimeout))
	must(t, browsertest.WaitFor(alice, cancelledJS, stepTimeout))
	if got := transfers(t, alice)[2]; got.Done >= got.Size {
		t.Errorf("alice's transfer cancelled by bob %+v: want it stopped before the end", got)
	}
	sendChat(t, alice, "after bob's cancel")
	waitChat(t, bob, "after bob's cancel")
}

// TestStatsPanel: the connection info panel names the candidate types of
// the selected pair and shows bitrates above zero both ways.
func TestStatsPanel(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	alice, _ := startCall(t, b, srv.URL())
	must(t, browsertest.Click(alice, "stats-button"))
	must(t, browsertest.WaitFor(alice, visible("stats-panel"), stepTimeout))
	must(t, browsertest.WaitFor(alice, `(() => { const s = window.duet.stats(); return !!s && s.sendKbps > 0 && s.recvKbps > 0; })()`, connectTimeout))
	must(t, browsertest.WaitFor(alice, visible("stats-candidates"), stepTimeout))
	cands, err := browsertest.Text(alice, "stats-candidates")
	must(t, err)
	path, err := browsertest.Text(alice, "stats-path")
	must(t, err)
	send, err := browsertest.Text(alice, "stats-send")
	must(t, err)
	// Both pages are on loopback with host candidates (browsertest turns
	// mDNS off), so the pair is host / host and direct.
	if cands != "host / host" || path != "direct" || !strings.Contains(send, "bit/s") || strings.HasPrefix(send, "0 ") {
		t.Errorf("stats panel: candidates %q, path %q, sending %q; want host / host, direct, a non-zero bitrate", cands, path, send)
	}
	must(t, browsertest.WaitFor(alice, `/\d+×\d+/.test(`+browsertest.TestID("stats-video-in")+`.textContent) && /VP8|VP9|H264|AV1/i.test(`+browsertest.TestID("stats-codecs")+`.textContent)`, stepTimeout))
}

// untranslatedJS lists the visible English words on a page shown in
// Chinese: text nodes and the placeholder, aria-label and title of
// visible elements. What the people wrote (chat lines, file names), the room link
// and technical units are not strings of the app.
const untranslatedJS = `(() => {
	const allowed = new Set(["duet", "English", "SHA", "TURN", "kbit", "Mbit", "fps", "host", "srflx", "prflx", "relay", "VP8", "VP9", "H264", "opus", "Opus"]);
	const skip = (el) => el.closest('.text, .file-name, [data-testid="room-link"], [data-testid="stats-codecs"], [data-testid="remote-name"], progress');
	const shown = (el) => el.checkVisibility() && !el.closest("[hidden]");
	const words = [];
	const add = (s) => { for (const w of s.match(/[A-Za-z]{3,}/g) || []) if (!allowed.has(w)) words.push(w); };
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const el = n.parentElement;
		if (el && shown(el) && !skip(el)) add(n.textContent);
	}
	for (const el of document.querySelectorAll("[placeholder], [aria-label], [title]")) {
		if (shown(el) && !skip(el)) for (const a of ["placeholder", "aria-label", "title"]) add(el.getAttribute(a) || "");
	}
	add(document.title);
	return words;
})()`

// TestLanguageSwitch: the switch turns every visible string into Chinese
// on the home page and in a call, keeps the choice across a reload, and
// turns it back.
func TestLanguageSwitch(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	home := b.NewPage(t, browsertest.PageName("home"))
	must(t, browsertest.Navigate(home, srv.URL()+"/"))
	must(t, browsertest.WaitFor(home, `window.duet.lang() === "en"`, stepTimeout))
	before, err := browsertest.Text(home, "new-call-button")
	must(t, err)
	must(t, browsertest.Click(home, "lang-switch"))
	after, err := browsertest.Text(home, "new-call-button")
	must(t, err)
	if before != "Start a new call" || after != "发起新通话" {
		t.Errorf("new-call-button %q then %q after the switch; want English then Chinese", before, after)
	}
	var words []string
	must(t, browsertest.Eval(home, untranslatedJS, &words))
	if len(words) > 0 {
		t.Errorf("home page in Chinese still shows English: %v", words)
	}
	// The check itself can fail: in English it finds words.
	must(t, browsertest.Click(home, "lang-switch"))
	must(t, browsertest.Eval(home, untranslatedJS, &words))
	if len(words) == 0 {
		t.Error("the check for English words finds none on the English home page")
	}
	must(t, browsertest.Click(home, "lang-switch"))
	must(t, browsertest.Reload(home))
	must(t, browsertest.WaitFor(home, `window.duet.lang() === "zh-CN" && document.documentElement.lang === "zh-CN"`, stepTimeout))

	// In a call (the same browser profile, so the choice holds): every
	// control, the state, the panels, chat lines and a file in Chinese.
	alice, bob := startCall(t, b, srv.URL())
	must(t, browsertest.WaitFor(alice, `window.duet.lang() === "zh-CN"`, stepTimeout))
	sendChat(t, bob, "hi")
	waitChat(t, alice, "hi")
	pickFile(t, bob, 64<<10, 1, "small.bin")
	must(t, browsertest.WaitFor(alice, `window.duet.files().length === 1 && window.duet.files()[0].state === "done"`, connectTimeout))
	must(t, browsertest.Click(alice, "mute-button"))
	must(t, browsertest.Click(alice, "stats-button"))
	must(t, browsertest.WaitFor(alice, `!!window.duet.stats()`, connectTimeout))
	must(t, browsertest.Eval(alice, untranslatedJS, &words))
	if len(words) > 0 {
		t.Errorf("call page in Chinese still shows English: %v", words)
	}
	status := statusText(t, alice)
	mute, err := browsertest.Text(alice, "mute-button")
	must(t, err)
	if status != "已连接" || mute != "取消静音" {
		t.Errorf("in Chinese: call-status %q, mute-button %q; want 已连接, 取消静音", status, mute)
	}
	must(t, browsertest.Click(alice, "lang-switch"))
	status = statusText(t, alice)
	mute, err = browsertest.Text(alice, "mute-button")
	must(t, err)
	if status != "Connected" || mute != "Unmute" {
		t.Errorf("switched back: call-status %q, mute-button %q; want Connected, Unmute", status, mute)
	}
}

// TestLanguageFromBrowser: with no saved choice, a browser whose language
// is Chinese gets the app in Chinese.
func TestLanguageFromBrowser(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t, browsertest.WithFlag("lang", "zh-CN"), browsertest.WithFlag("accept-lang", "zh-CN,zh"))
	page := b.NewPage(t, browsertest.PageName("zh"))
	must(t, browsertest.Navigate(page, srv.URL()+"/"))
	var got struct{ Nav, Lang, Button string }
	must(t, browsertest.Eval(page, `({nav: navigator.language, lang: window.duet.lang(), button: `+browsertest.TestID("new-call-button")+`.textContent})`, &got))
	if got.Lang != "zh-CN" || got.Button != "发起新通话" {
		t.Errorf("browser language %q: app shows %q, new-call-button %q; want zh-CN, 发起新通话", got.Nav, got.Lang, got.Button)
	}
}
