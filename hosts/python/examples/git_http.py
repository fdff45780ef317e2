"""A forge's git-over-HTTP front end: every request decided by forge_authz with facts from the
forge's own database, then served by `git http-backend` (docs/design/fact-sources.md §7).

    python hosts/python/examples/git_http.py --repos DIR (--sqlite FILE | --postgres URL)
        [--port 8080] [--config config.json]

- `http.server.ThreadingHTTPServer`: a thread per request, so a connection to the database
  per request too (`forge_schema.Database` keeps one per thread; a forge with a thread pool
  reuses them). The facts come from `forge_schema.SchemaFacts` at the moment of the
  request: revoking or deleting a token row holds from the next request, with nothing to
  flush.
- The request to the policy: the credential (`Authorization: Bearer`, or Basic with the
  token as the password), the repository from the URL, `pull` for `git-upload-pack`, `push`
  for `git-receive-pack` with the ref updates read from the pushed commands, so a push to
  a protected branch is refused before git runs; one refused ref update refuses the whole
  push (git http-backend cannot apply part of one). A non-fast-forward update cannot be told
  before its objects arrive: the policy decides every update as a plain push (`force`
  false) and git refuses non-fast-forward updates (`receive.denyNonFastForwards`); a forge
  that allows force pushes decides them in a pre-receive hook. Only an allow is served: a
  deny answers its status (401 with a Basic challenge, 403, 404, 400; 503 when the
  database or the policy failed) and its message, never the detail (that goes to the log).
- The CGI bridge: the request body is read with a bound (`MAX_BODY`; chunked bodies
  decoded), `git http-backend` runs with `GIT_PROJECT_ROOT` and a timeout, its output is
  streamed back; if the client goes away or the timeout passes, the child is killed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

import forge_authz
import forge_schema as fs

MAX_BODY = 64 << 20  # bytes a request may send
BACKEND_TIMEOUT = 60.0  # seconds `git http-backend` may run
ZERO = "0" * 40

_PATH = re.compile(r"^/([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*?)(?:\.git)?"
                   r"(/info/refs|/git-upload-pack|/git-receive-pack)$")
SERVICES = {"git-upload-pack": "pull", "git-receive-pack": "push"}


class BadRequest(Exception):
    pass


def peer_address(host: str) -> str:
    """The peer's address as the policy reads it (an IPv4-mapped IPv6 address as IPv4)."""
    mapped = host.lower().removeprefix("::ffff:")
    return mapped if mapped.count(".") == 3 else host


def credential(header: Optional[str]) -> Any:
    """The request's credential in the policy's request format."""
    if not header:
        return "anonymous"
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return {"bearer": value.strip()}
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
            user, _, password = decoded.partition(":")
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest("unreadable Basic credentials") from e
        return {"basic": {"username": user, "password": password}}
    raise BadRequest(f"unknown authorization scheme {scheme!r}")


def pushed_refs(body: bytes) -> List[Dict[str, Any]]:
    """The ref updates at the head of a `git-receive-pack` request: pkt-lines `old new name`
    (the first with `\\0capabilities`) up to the flush packet."""
    refs, at = [], 0
    while True:
        if at + 4 > len(body):
            raise BadRequest("truncated push commands")
        try:
            size = int(body[at:at + 4], 16)
        except ValueError as e:
            raise BadRequest("malformed pkt-line") from e
        if size == 0:
            return refs
        if size < 4 or at + size > len(body):
            raise BadRequest("malformed pkt-line")
        line = body[at + 4:at + size].split(b"\0", 1)[0].decode("utf-8", "replace").rstrip("\n")
        at += size
        if line.startswith("shallow "):
            continue
        parts = line.split(" ")
        if len(parts) != 3:
            raise BadRequest("malformed push command")
        old, new, name = parts
        refs.append({"name": name, "old": old, "new": new, "force": False})


class Handler(BaseHTTPRequestHandler):
    """One request: decide, then serve through `git http-backend` or answer the deny."""

    policy: forge_authz.Policy
    facts: Any  # a forge_authz fact source
    repos: str  # GIT_PROJECT_ROOT
    log: List[Dict[str, Any]]  # every answer (status, reason, path): what a forge logs
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.handle_git()

    def do_POST(self) -> None:
        self.handle_git()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: decisions are logged
        pass

    def handle_git(self) -> None:
        path, _, query = self.path.partition("?")
        m = _PATH.match(path)
        service = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("service")
        if not m or (m.group(3) == "/info/refs") != (service is not None):
            return self.answer(404, "not-found", "no such repository")
        owner, name, endpoint = m.groups()
        service = service or endpoint[1:]
        if service not in SERVICES or (self.command == "POST") == (endpoint == "/info/refs"):
            return self.answer(400, "bad-request", "not a git smart HTTP request")
        try:
            body = self.read_body() if self.command == "POST" else b""
            request: Dict[str, Any] = {
                "credential": credential(self.headers.get("Authorization")),
                "repository": f"{owner}/{name}", "action": SERVICES[service], "transport": "http",
                # The TCP peer, checked against IP allow lists (behind a reverse proxy: read
                # its header only when the peer is that proxy).
                "client_address": peer_address(self.client_address[0])}
            if endpoint == "/git-receive-pack":
                request["refs"] = pushed_refs(body)
        except BadRequest as e:
            return self.answer(400, "bad-request", str(e))
        try:
            d = self.policy.decide(self.facts, request)
        except forge_authz.InvalidRequest as e:
            return self.answer(400, "bad-request", str(e))
        # The push is allowed but some of its ref updates may not be ("push allowed; some ref
        # updates are refused"): git http-backend cannot apply part of a push, so none is
        # applied (403 with the first refused ref's reason, as the Go example answers).
        ref = next((r for r in d.refs if not r.allowed), None) if d.allowed else None
        status, reason = (403, ref.reason) if ref else (d.status, d.reason)
        self.log.append({"method": self.command, "path": self.path, "status": status,
                         "reason": reason, "detail": d.detail,
                         **({"ref": ref.name} if ref else {})})
        if ref is not None:
            return self.answer(403, ref.reason, ref.message or "access denied")
        if not d.allowed:
            return self.answer(d.status, d.reason, d.message or "access denied")
        self.backend(f"/{owner}/{name}.git{endpoint}", query, body)

    def read_body(self) -> bytes:
        """The request body, at most MAX_BODY bytes (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(64)
                    return bytes(out)
                if len(out) + size > MAX_BODY:
                    raise BadRequest("request body too large")
                out += self.rfile.read(size)
                self.rfile.readline(64)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BadRequest("request body too large")
        return self.rfile.read(length)

    def answer(self, status: int, reason: str, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="forge"')
        self.send_header("X-Forge-Authz-Reason", reason)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def backend(self, path_info: str, query: str, body: bytes) -> None:
        """Run `git http-backend` for an allowed request and stream its answer back."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.repos, "GIT_HTTP_EXPORT_ALL": "1",
            # the policy allowed this push: git's own REMOTE_USER check is not needed; a
            # non-fast-forward update cannot be told before its objects arrive, so the
            # policy decided every update as a plain push and git refuses the others
            "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true", "GIT_CONFIG_KEY_1": "receive.denyNonFastForwards",
            "GIT_CONFIG_VALUE_1": "true",
            "REQUEST_METHOD": self.command, "PATH_INFO": path_info, "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": self.client_address[0],
        }
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                            ("Git-Protocol", "GIT_PROTOCOL")):
            if self.headers.get(header):
                env[var] = self.headers[header]
        child = subprocess.Popen(["git", "http-backend"], env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        timer = threading.Timer(BACKEND_TIMEOUT, child.kill)
        timer.start()
        feeder = threading.Thread(target=_feed, args=(child, body), daemon=True)
        feeder.start()
        try:
            status, headers = _cgi_head(child)
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while chunk := child.stdout.read1(65536):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
            child.wait()
            feeder.join()


def _feed(child: subprocess.Popen, body: bytes) -> None:
    try:
        child.stdin.write(body)
    except OSError:
        pass
    finally:
        try:
            child.stdin.close()
        except OSError:
            pass


def _cgi_head(child: subprocess.Popen) -> Tuple[int, List[Tuple[str, str]]]:
    """The CGI response's status and headers (at most 64 KiB of them)."""
    status, headers, seen = 200, [], 0
    while True:
        line = child.stdout.readline(8192)
        seen += len(line)
        if not line or seen > 65536:
            raise ValueError("git http-backend gave no CGI header")
        line = line.rstrip(b"\r\n").decode("latin-1")
        if not line:
            return status, headers
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((key, value.strip()))


def serve(policy: forge_authz.Policy, facts: Any, repos: str, port: int = 0
          ) -> Tuple[ThreadingHTTPServer, List[Dict[str, Any]]]:
    """A server on 127.0.0.1:`port` (0: any free port), not yet serving; and its decision log."""
    log: List[Dict[str, Any]] = []
    handler = type("ForgeHandler", (Handler,), {"policy": policy, "facts": facts,
                                                "repos": os.path.abspath(repos), "log": log})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server, log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", required=True, help="directory of <owner>/<name>.git")
    db = ap.add_mutually_exclusive_group(required=True)
    db.add_argument("--sqlite", help="the forge's SQLite database file")
    db.add_argument("--postgres", help="the forge's PostgreSQL URL")
    ap.add_argument("--config", help="policy config JSON (keys, signing_key); "
                    "default: $FORGE_AUTHZ_CONFIG")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    config = json.load(open(args.config or os.environ["FORGE_AUTHZ_CONFIG"]))
    if args.sqlite:
        database = fs.Database(fs.sqlite_connect(args.sqlite), fs.SQLITE)
    else:
        database = fs.Database(fs.postgres_connect(args.postgres), fs.POSTGRES)
    server, _ = serve(forge_authz.Policy(config), fs.SchemaFacts(database), args.repos,
                      args.port)
    print(f"serving {args.repos} on http://127.0.0.1:{server.server_address[1]}/",
          file=sys.stderr)
    started = time.monotonic()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"stopped after {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
