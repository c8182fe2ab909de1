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

document.getElementById("hello-form").addEventListener("submit", greet);
document.getElementById("note-form").addEventListener("submit", addNote);
refreshStatus();
greet();
loadNotes();
