"""Test helpers: ``serve.py`` in a subprocess on a free port, and plain-stdlib HTTP calls."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def gone(procs, timeout: float = 10.0) -> bool:
    """Whether every one of ``procs`` (psutil processes) has ended within ``timeout`` seconds."""
    import psutil
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return not alive


class Server:
    """``serve.py`` in a subprocess; ``url`` once it listens."""

    def __init__(self, db, models, *extra, tmpdir=None, env=None):
        e = dict(os.environ, **(env or {}))
        if tmpdir:
            e["TMPDIR"] = str(tmpdir)
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--db", str(db), "--models-dir",
                                      str(models), "--port", "0", *extra], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e, cwd=ROOT)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line}{self.proc.stderr.read()[-3000:]}")
        self.url = line.split(" at ")[1].split()[0].split("/?")[0].rstrip("/")

    def children(self) -> list:
        """The server's child processes (its analysis workers), as psutil processes."""
        import psutil
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def call(method, url, *, data=None, headers=None, json_body=None, timeout=120):
    """``(status, headers, parsed body)`` of one request (JSON parsed when it is JSON)."""
    headers = dict(headers or {})
    if json_body is not None:
        data, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, hdrs, body = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, body = e.code, dict(e.headers), e.read()
    if "json" in hdrs.get("content-type", ""):
        body = json.loads(body)
    return status, {k.lower(): v for k, v in hdrs.items()}, body


def multipart(fields: dict, files: dict):
    """A multipart/form-data body: ``files`` maps a field to ``(filename, bytes)``."""
    b = uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        for x in (v if isinstance(v, list) else [v]):
            parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{x}\r\n'.encode())
    for k, (name, content) in files.items():
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{b}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={b}"}


def raw_post(url, headers: dict, body: bytes, *, declare_length: bool):
    """POST over a plain socket, with Content-Length or chunked, reading the answer even when
    the server answers before the body is sent (as it should for a body over its limit)."""
    import socket
    from urllib.parse import urlsplit
    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    head = f"POST {u.path}{'?' + u.query if u.query else ''} HTTP/1.1\r\nHost: {u.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n" if declare_length else "Transfer-Encoding: chunked\r\n"
    sock.sendall((head + "Connection: close\r\n\r\n").encode())
    try:
        for k in range(0, len(body), 65536):
            part = body[k:k + 65536]
            sock.sendall(part if declare_length else f"{len(part):x}\r\n".encode() + part + b"\r\n")
        if not declare_length:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass                                                   # the server stopped reading: fine
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    sock.close()
    status = int(data.split(b" ", 2)[1])
    raw = data.split(b"\r\n\r\n", 1)[1]
    if b"transfer-encoding: chunked" in data.split(b"\r\n\r\n", 1)[0].lower():
        raw = raw.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return status, json.loads(raw)


def upload(url, path_or_bytes, name=None, fields=None, **kw):
    content = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    body, headers = multipart(fields or {}, {"file": (name or Path(str(path_or_bytes)).name, content)})
    return call("POST", url, data=body, headers=headers, **kw)
