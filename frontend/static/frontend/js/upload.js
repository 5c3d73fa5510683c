// A recording uploaded in pieces (the API's resumable uploads), so a file of several GB shows
// real progress and survives a dropped connection: after a failed piece the upload asks the
// server how much it holds and carries on from there.
import { api } from "./common.js";

const PIECE_BYTES = 16 * 1024 * 1024;
const RETRIES = 5;

function sendPiece(url, offset, blob, onSent) {
  // XMLHttpRequest, not fetch: only it reports how much of a request body has gone.
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PATCH", url);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.setRequestHeader("Upload-Offset", String(offset));
    const token = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (token) request.setRequestHeader("X-CSRFToken", decodeURIComponent(token[1]));
    request.upload.addEventListener("progress", (event) => onSent(event.loaded));
    request.addEventListener("load", () => {
      const body = JSON.parse(request.responseText || "null");
      if (request.status >= 200 && request.status < 300) resolve(body);
      else {
        const error = new Error((body && body.error && body.error.message) || request.statusText);
        error.status = request.status;
        reject(error);
      }
    });
    request.addEventListener("error", () => reject(new Error("The connection dropped.")));
    request.send(blob);
  });
}

export async function uploadResumable(startUrl, file, onProgress) {
  const upload = await api(startUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename: file.name, size_bytes: file.size }),
  });
  const url = "/api/v1/uploads/" + upload.id;
  let offset = 0, failures = 0;
  onProgress(0, file.size);
  while (offset < file.size) {
    const piece = file.slice(offset, offset + PIECE_BYTES);
    try {
      const state = await sendPiece(url, offset, piece, (sent) => onProgress(offset + sent, file.size));
      offset = state.received_bytes;
      failures = 0;
    } catch (error) {
      if (error.status && error.status < 500 && error.status !== 409) throw error;
      failures += 1;
      if (failures > RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** failures));
      offset = (await api(url)).received_bytes;  // where to resume
    }
    onProgress(offset, file.size);
  }
  return api(url + "/complete", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ analyse: true }),
  });
}
