"""/api/notes: a tiny in-memory notes list (one per worker process; gone on restart)."""

import itertools
import threading

from gateway import HTTPError

_lock = threading.Lock()
_ids = itertools.count(1)
NOTES: dict[int, str] = {}


def list_notes(request):
    with _lock:
        return [{"id": note_id, "text": text} for note_id, text in NOTES.items()]


def add_note(request):
    data = request.json()
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise HTTPError(422, "send json like {\"text\": \"...\"}")
    with _lock:
        note_id = next(_ids)
        NOTES[note_id] = text.strip()[:500]
    return 201, {"id": note_id, "text": NOTES[note_id]}


def delete_note(request):
    with _lock:
        if NOTES.pop(request.params["id"], None) is None:
            raise HTTPError(404, f"no note {request.params['id']}")
    return None
