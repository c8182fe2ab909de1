"""GET /api/status: what the server is and how long this process has served."""

import os
import platform
import time

import gateway

STARTED = time.time()


def status(request):
    return {
        "server": f"gateway {gateway.__version__}",
        "python": platform.python_version(),
        "pid": os.getpid(),
        "uptime_seconds": round(time.time() - STARTED, 1),
        "request_id": request.id,
    }


def hello(request):
    """GET /api/hello/{name}: the path parameter arrives decoded."""
    return {"message": f"hello, {request.params['name']}!"}
