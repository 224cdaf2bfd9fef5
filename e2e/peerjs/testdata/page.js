// page.js drives the real PeerJS client for the Go test. The test calls
// these functions with chromedp and reads window.log; nothing here decides
// whether the test passes.
"use strict";

const params = new URLSearchParams(location.search);
const server = {
  host: params.get("host"),
  port: Number(params.get("port")),
  path: params.get("path"),
  key: params.get("key") || "peerjs",
  secure: false,
  config: { iceServers: [] }, // same machine: host candidates are enough
};

window.log = { errors: [], data: [], remoteFrames: 0, calls: 0 };
let peer;
let localStream;

// start makes a Peer (with the given id, or one from the server's /id)
// and resolves with its id on "open", or rejects with the PeerJS error.
window.start = (id) => new Promise((resolve, reject) => {
  peer = id ? new peerjs.Peer(id, server) : new peerjs.Peer(server);
  peer.on("open", resolve);
  peer.on("error", (err) => {
    window.log.errors.push({ type: err.type, message: String(err.message) });
    reject(new Error(err.type + ": " + err.message));
  });
  // Answer data connections by echoing every message back, prefixed.
  peer.on("connection", (conn) => {
    conn.on("data", (d) => {
      window.log.data.push(d);
      conn.send("echo:" + d);
    });
  });
  // Answer calls with our own fake camera and watch the caller's video.
  peer.on("call", async (call) => {
    window.log.calls++;
    call.answer(await camera());
    call.on("stream", watch);
  });
});

// startExpectingError makes a Peer that should fail and resolves with the
// error the client reports.
window.startExpectingError = (id, key) => new Promise((resolve) => {
  const p = new peerjs.Peer(id, { ...server, key: key || server.key });
  p.on("open", () => resolve({ type: "opened", message: "" }));
  p.on("error", (err) => resolve({ type: err.type, message: String(err.message) }));
});

// exchange opens a DataConnection to id, sends n messages and resolves with
// the echoes it got back.
window.exchange = (id, n) => new Promise((resolve, reject) => {
  const conn = peer.connect(id, { reliable: true });
  const got = [];
  conn.on("open", () => {
    for (let i = 0; i < n; i++) conn.send("msg-" + i);
  });
  conn.on("data", (d) => {
    got.push(d);
    if (got.length === n) resolve(got);
  });
  conn.on("error", (err) => reject(new Error(String(err))));
});

// connectAbsent resolves with the error PeerJS reports for a peer id that
// never connects (the server's EXPIRE).
window.connectAbsent = (id) => new Promise((resolve) => {
  peer.once("error", (err) => resolve({ type: err.type, message: String(err.message) }));
  peer.connect(id);
});

// call calls id with the fake camera and watches the answerer's video.
window.call = async (id) => {
  const call = peer.call(id, await camera());
  call.on("stream", watch);
};

async function camera() {
  if (!localStream) {
    localStream = await navigator.mediaDevices.getUserMedia({ video: { width: 160, height: 120 }, audio: false });
  }
  return localStream;
}

// watch counts decoded frames of the remote stream.
function watch(stream) {
  const v = document.getElementById("remote");
  v.srcObject = stream;
  const tick = () => {
    window.log.remoteFrames++;
    v.requestVideoFrameCallback(tick);
  };
  v.requestVideoFrameCallback(tick);
  v.play().catch(() => {});
}
