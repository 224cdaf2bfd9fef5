// The verify code: six digits both people see, derived from the DTLS
// certificate fingerprints in the two session descriptions. Reading them
// aloud proves that no one in the middle — a compromised signaling server
// included — swapped the keys, since the keys are what encrypt the media.
// The derivation (docs/protocol.md, "Verify code") is the same in the Go
// SDK (client.VerifyCodeFromSDP), so a duet peer prints the same digits.

/**
 * The first a=fingerprint line of an SDP, normalised to
 * "<algorithm lower-case> <HEX:UPPER>", or "" when there is none.
 * @param {string} sdp
 */
export function sdpFingerprint(sdp) {
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^a=fingerprint:(\S+)\s+(\S+)\s*$/.exec(line.trim());
    if (m) return m[1].toLowerCase() + " " + m[2].toUpperCase();
  }
  return "";
}

/**
 * The code for two session descriptions, in either order, as "123 456";
 * "" when either has no fingerprint.
 * @param {string} a
 * @param {string} b
 * @returns {Promise<string>}
 */
export async function verifyCodeFromSDP(a, b) {
  const fs = [sdpFingerprint(a), sdpFingerprint(b)];
  if (!fs[0] || !fs[1]) return "";
  fs.sort(); // plain code-unit order, as Go's sort of strings
  const sum = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(fs[0] + "\n" + fs[1]));
  const n = new DataView(sum).getUint32(0, false) % 1000000;
  const s = String(n).padStart(6, "0");
  return s.slice(0, 3) + " " + s.slice(3);
}

/**
 * The code of a connected peer connection, or "" before both
 * descriptions are set.
 * @param {RTCPeerConnection} pc
 */
export async function verifyCode(pc) {
  const l = pc.currentLocalDescription, r = pc.currentRemoteDescription;
  if (!l || !r) return "";
  return verifyCodeFromSDP(l.sdp, r.sdp);
}
