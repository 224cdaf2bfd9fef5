// media.js — getting the camera and microphone, with fallbacks, and no DOM.
// A missing camera falls back to audio only, a missing microphone too, and
// no device at all to receive-only: the person can still see and hear the
// other side. Refused permission is reported so the UI can say so.

/**
 * @typedef {"audio-video"|"audio-only"|"video-only"|"receive-only"} MediaMode
 * @typedef {"denied"|"no-device"|"in-use"|"insecure"|""} MediaProblem
 * @typedef {{stream: MediaStream|null, mode: MediaMode, problem: MediaProblem}} LocalMedia
 */

/**
 * Asks for the camera and microphone, falling back step by step. audio
 * adds constraints to the microphone (its processing: original sound).
 * @param {MediaTrackConstraints} [audio]
 * @returns {Promise<LocalMedia>}
 */
export async function getLocalMedia(audio = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    // Browsers hide getUserMedia on pages that are not https or localhost.
    return { stream: null, mode: "receive-only", problem: "insecure" };
  }
  const mic = Object.keys(audio).length ? audio : true;
  /** @type {[MediaStreamConstraints, MediaMode][]} */
  const tries = [
    [{ audio: mic, video: true }, "audio-video"],
    [{ audio: mic }, "audio-only"],
    [{ video: true }, "video-only"],
  ];
  /** @type {MediaProblem} */
  let problem = "no-device";
  for (const [constraints, mode] of tries) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      return { stream, mode, problem: mode === "audio-video" ? "" : "no-device" };
    } catch (err) {
      const name = err instanceof Error ? err.name : "";
      if (name === "NotAllowedError" || name === "SecurityError") {
        // Asking again for less would be refused too (and nag).
        return { stream: null, mode: "receive-only", problem: "denied" };
      }
      if (name === "NotReadableError" || name === "AbortError") problem = "in-use";
      // NotFoundError, OverconstrainedError: try with fewer devices.
    }
  }
  return { stream: null, mode: "receive-only", problem };
}

/**
 * Stops every track of the stream, turning the camera light off.
 * @param {MediaStream|null} stream
 */
export function stopMedia(stream) {
  if (stream) for (const t of stream.getTracks()) t.stop();
}
