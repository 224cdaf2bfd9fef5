// Call reports: one anonymous line per call to this server's
// /api/call-report, so its operator can see what no signaling server sees
// on its own — how long calls take to connect, how many go through the
// relay, how many fail. No room, peer id or address is sent
// (docs/protocol.md, "Call reports"). On by default; turned off on this
// browser with localStorage "duet.callReports" = "off".

/** @returns {boolean} */
export function reportsEnabled() {
  try {
    return localStorage.getItem("duet.callReports") !== "off";
  } catch {
    return true; // storage blocked: the default
  }
}

/**
 * Watches one peer connection from the moment both peers are in the room
 * and sends one report when it first connects or fails. A connection
 * closed before either sends nothing.
 * @param {RTCPeerConnection} pc
 */
export function reportCallOutcome(pc) {
  if (!reportsEnabled()) return;
  const start = performance.now();
  let sent = false;
  const onChange = async () => {
    const s = pc.connectionState;
    if (sent || (s !== "connected" && s !== "failed")) return;
    sent = true;
    pc.removeEventListener("connectionstatechange", onChange);
    const setupMs = Math.min(Math.round(performance.now() - start), 600000);
    const path = s === "connected" ? await selectedPath(pc) : "";
    if (s === "connected" && !path) return; // closed meanwhile: nothing certain to say
    send({ outcome: s, path, setupMs });
  };
  pc.addEventListener("connectionstatechange", onChange);
}

/**
 * "relay" when either end of the selected candidate pair is a TURN relay
 * candidate, "direct" otherwise, "" when no pair is selected.
 * @param {RTCPeerConnection} pc
 * @returns {Promise<string>}
 */
export async function selectedPath(pc) {
  let stats;
  try {
    stats = await pc.getStats();
  } catch {
    return "";
  }
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) return "";
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  if (!local || !remote) return "";
  return local.candidateType === "relay" || remote.candidateType === "relay" ? "relay" : "direct";
}

/** @param {{outcome: string, path: string, setupMs: number}} report */
function send(report) {
  fetch("/api/call-report", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(report),
    keepalive: true,
  }).catch(() => {
    // A report is a courtesy to the operator; losing one changes nothing.
  });
}
