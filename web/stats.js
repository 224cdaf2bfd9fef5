// stats.js — the connection info panel: once a second it reads getStats()
// of the peer connection and shows the path (direct or relayed), the
// candidate types, round-trip time, bitrates, packet loss, video size and
// frame rate, and codecs, with a chart of bitrate and RTT over the last
// minute drawn on a canvas (no library).

/** Samples kept for the chart: one a second, one minute. */
const HISTORY = 60;

/**
 * @typedef {{
 *   path: "direct"|"relay"|"", localType: string, remoteType: string,
 *   rttMs: number, sendKbps: number, recvKbps: number, lossPct: number,
 *   videoIn: string, videoOut: string, codecs: string,
 * }} Sample
 */

/**
 * Reads one sample from a stats report; prev gives the byte counts of the
 * sample before, for bitrates.
 * @param {RTCStatsReport} report
 * @param {{sent: number, recv: number, at: number}|null} prev
 * @returns {{sample: Sample, counts: {sent: number, recv: number, at: number}}}
 */
export function readStats(report, prev) {
  /** @type {Map<string, any>} */
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null;
  for (const s of byId.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
  }
  if (!pair) {
    // Firefox has no transport stats: its pair says selected.
    for (const s of byId.values()) {
      if (s.type === "candidate-pair" && (s.selected || (s.nominated && s.state === "succeeded"))) pair = s;
    }
  }
  const local = pair ? byId.get(pair.localCandidateId) : null;
  const remote = pair ? byId.get(pair.remoteCandidateId) : null;
  const localType = local ? local.candidateType || "" : "";
  const remoteType = remote ? remote.candidateType || "" : "";
  /** @type {Sample["path"]} */
  let path = "";
  if (pair) path = localType === "relay" || remoteType === "relay" ? "relay" : "direct";

  const now = performance.now();
  const counts = { sent: pair ? pair.bytesSent || 0 : 0, recv: pair ? pair.bytesReceived || 0 : 0, at: now };
  let sendKbps = 0;
  let recvKbps = 0;
  if (prev && now > prev.at && counts.sent >= prev.sent && counts.recv >= prev.recv) {
    const sec = (now - prev.at) / 1000;
    sendKbps = ((counts.sent - prev.sent) * 8) / 1000 / sec;
    recvKbps = ((counts.recv - prev.recv) * 8) / 1000 / sec;
  }

  let lost = 0;
  let received = 0;
  let videoIn = "";
  let videoOut = "";
  /** @type {Set<string>} */
  const codecs = new Set();
  for (const s of byId.values()) {
    if (s.type === "inbound-rtp") {
      lost += Math.max(0, s.packetsLost || 0);
      received += s.packetsReceived || 0;
      if (s.kind === "video" && s.frameWidth) videoIn = videoText(s);
    } else if (s.type === "outbound-rtp" && s.kind === "video" && s.frameWidth) {
      videoOut = videoText(s);
    }
    if ((s.type === "inbound-rtp" || s.type === "outbound-rtp") && s.codecId) {
      const c = byId.get(s.codecId);
      if (c && c.mimeType) codecs.add(c.mimeType.replace(/^(audio|video)\//, ""));
    }
  }
  return {
    sample: {
      path, localType, remoteType,
      rttMs: pair && typeof pair.currentRoundTripTime === "number" ? pair.currentRoundTripTime * 1000 : 0,
      sendKbps, recvKbps,
      lossPct: lost + received > 0 ? (100 * lost) / (lost + received) : 0,
      videoIn, videoOut, codecs: Array.from(codecs).sort().join(", "),
    },
    counts,
  };
}

/** @param {any} s an inbound- or outbound-rtp video stat */
function videoText(s) {
  const fps = typeof s.framesPerSecond === "number" ? " @ " + Math.round(s.framesPerSecond) + " fps" : "";
  return s.frameWidth + "×" + s.frameHeight + fps;
}

export class StatsPanel {
  /**
   * @param {{root: HTMLElement, fields: Record<string, HTMLElement>, chart: HTMLCanvasElement,
   *          pc: () => RTCPeerConnection|null, strings: () => import("./strings.js").Strings,
   *          onSample?: (s: Sample|null) => void}} opts
   */
  constructor(opts) {
    this.opts = opts;
    /** @type {Sample[]} */
    this.history = [];
    /** @type {Sample|null} */
    this.last = null;
    /** @type {{sent: number, recv: number, at: number}|null} */
    this.prev = null;
    /** @type {RTCPeerConnection|null} */
    this.prevPC = null;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.timer = undefined;
  }

  start() {
    if (this.timer === undefined) this.timer = setInterval(() => this.tick(), 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async tick() {
    const pc = this.opts.pc();
    if (pc !== this.prevPC) {
      // A new connection: its counters start at zero, and so does the chart.
      this.prevPC = pc;
      this.prev = null;
      this.history = [];
      this.last = null;
    }
    if (!pc || pc.connectionState === "closed") {
      this.render();
      if (this.opts.onSample) this.opts.onSample(null);
      return;
    }
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return; // closed meanwhile
    }
    if (pc !== this.prevPC) return;
    const { sample, counts } = readStats(report, this.prev);
    this.prev = counts;
    if (sample.path) {
      this.last = sample;
      this.history.push(sample);
      if (this.history.length > HISTORY) this.history.shift();
    }
    this.render();
    if (this.opts.onSample) this.opts.onSample(this.last);
  }

  /** Redraws the panel from the last sample (also after a language switch). */
  render() {
    const S = this.opts.strings();
    const f = this.opts.fields;
    const s = this.last;
    f.none.hidden = !!s;
    f.list.hidden = !s;
    this.opts.chart.setAttribute("aria-label", S.statsChart);
    if (!s) return;
    f.path.textContent = s.path === "relay" ? S.statsRelayed : S.statsDirect;
    f.path.dataset.path = s.path;
    f.candidates.textContent = s.localType + " / " + s.remoteType;
    f.rtt.textContent = s.rttMs ? Math.round(s.rttMs) + " ms" : "–";
    f.send.textContent = kbps(s.sendKbps);
    f.recv.textContent = kbps(s.recvKbps);
    f.loss.textContent = s.lossPct.toFixed(1) + " %";
    f.videoIn.textContent = s.videoIn || "–";
    f.videoOut.textContent = s.videoOut || "–";
    f.codecs.textContent = s.codecs || "–";
    if (!this.opts.root.hidden) this.draw();
  }

  draw() {
    const c = this.opts.chart;
    const ctx = c.getContext("2d");
    if (!ctx) return;
    // Drawn at the size it is shown, so lines and labels are not stretched.
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(c.clientWidth * dpr);
    const ch = Math.round(c.clientHeight * dpr);
    if (cw > 0 && ch > 0 && (c.width !== cw || c.height !== ch)) {
      c.width = cw;
      c.height = ch;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const w = c.width;
    const h = c.height;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#2c3540";
    ctx.lineWidth = 1;
    for (let i = 1; i < 4; i++) {
      ctx.beginPath();
      ctx.moveTo(0, (h * i) / 4);
      ctx.lineTo(w, (h * i) / 4);
      ctx.stroke();
    }
    const rate = this.history.map((s) => s.sendKbps + s.recvKbps);
    const rtt = this.history.map((s) => s.rttMs);
    this.line(ctx, rate, "#3d8bfd");
    this.line(ctx, rtt, "#f5a524");
    // The scale of each line, in its colour, so the chart can be read.
    ctx.font = Math.round(11 * dpr) + "px system-ui, sans-serif";
    ctx.fillStyle = "#3d8bfd";
    ctx.fillText(Math.round(Math.max(1, ...rate)) + " kbit/s", 4 * dpr, 12 * dpr);
    ctx.fillStyle = "#f5a524";
    ctx.fillText(Math.round(Math.max(1, ...rtt)) + " ms", 4 * dpr, 26 * dpr);
  }

  /**
   * One series, scaled to its own maximum, newest at the right edge.
   * @param {CanvasRenderingContext2D} ctx @param {number[]} values @param {string} colour
   */
  line(ctx, values, colour) {
    const c = this.opts.chart;
    const max = Math.max(1, ...values) * 1.1;
    const step = c.width / (HISTORY - 1);
    const x0 = c.width - (values.length - 1) * step;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = x0 + i * step;
      const y = c.height - (v / max) * (c.height - 4) - 2;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

/** @param {number} k */
function kbps(k) {
  return k >= 1000 ? (k / 1000).toFixed(2) + " Mbit/s" : Math.round(k) + " kbit/s";
}
