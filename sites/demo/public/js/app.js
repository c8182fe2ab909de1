// The demo page's behaviour: every box talks to a handler in sites/demo/api/.
"use strict";

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status}: ${text.trim()}`);
  return text ? JSON.parse(text) : null;
}

function show(id, value) {
  document.getElementById(id).textContent =
    typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

async function refreshStatus() {
  try { show("status", await getJSON("/api/status")); }
  catch (error) { show("status", String(error)); }
}

async function greet(event) {
  if (event) event.preventDefault();
  const name = document.getElementById("hello-name").value || "world";
  try { show("hello", await getJSON(`/api/hello/${encodeURIComponent(name)}`)); }
  catch (error) { show("hello", String(error)); }
}

async function loadNotes() {
  const list = document.getElementById("notes");
  const notes = await getJSON("/api/notes");
  list.replaceChildren(...notes.map((note) => {
    const item = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = note.text;
    const remove = document.createElement("button");
    remove.className = "link";
    remove.textContent = "delete";
    remove.addEventListener("click", async () => {
      await getJSON(`/api/notes/${note.id}`, { method: "DELETE" });
      loadNotes();
    });
    item.append(text, remove);
    return item;
  }));
}

async function addNote(event) {
  event.preventDefault();
  const input = document.getElementById("note-text");
  await getJSON("/api/notes", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: input.value }),
  });
  input.value = "";
  loadNotes();
}

async function showTime() {
  try { show("time", await getJSON("/api/time")); }
  catch (error) { show("time", String(error)); }
}

function streamTicks() {
  const lines = [];
  const source = new EventSource("/api/ticks");
  source.onmessage = (event) => { lines.push(event.data); show("time", lines.join("\n")); };
  source.onerror = () => source.close();  // the stream ends after five ticks
}

function openSocket() {
  const lines = [];
  const log = (line) => { lines.push(line); show("ws", lines.slice(-6).join("\n")); };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/echo`);
  socket.onmessage = (event) => log(`< ${event.data}`);
  socket.onclose = (event) => log(`closed (${event.code})`);
  document.getElementById("ws-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = document.getElementById("ws-text").value;
    if (socket.readyState === WebSocket.OPEN) { socket.send(text); log(`> ${text}`); }
  });
}

document.getElementById("ticks-start").addEventListener("click", streamTicks);
document.getElementById("hello-form").addEventListener("submit", greet);
document.getElementById("note-form").addEventListener("submit", addNote);
refreshStatus();
greet();
loadNotes();
showTime();
openSocket();
