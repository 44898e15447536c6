#!/usr/bin/python3
"""fake_github.py: a stand-in for GitHub over TLS: git's smart HTTP served by
the real "git http-backend", and a small REST API for pull requests.
Python stdlib only.

Usage: fake_github.py ADDR PORT CERT KEY ROOT LOG TOKEN
  CERT, KEY  PEM server certificate (chain) and private key
  ROOT       directory of bare repositories ROOT/OWNER/NAME.git
  LOG        file appended with one JSON line per request
  TOKEN      the only token accepted
Prints "ready" on stdout once it listens.  TLS 1.2 or later, ALPN
http/1.1, HTTP/1.1 with keep-alive; "Expect: 100-continue" is answered;
request bodies may have a Content-Length or be chunked.

Git (smart HTTP only, as GitHub; ".git" may be left out of the path):
  GET  /OWNER/NAME.git/info/refs?service=git-upload-pack|git-receive-pack
  POST /OWNER/NAME.git/git-upload-pack
  POST /OWNER/NAME.git/git-receive-pack
  auth: exactly one "Authorization: Basic base64(x-access-token:TOKEN)",
        else 401 with WWW-Authenticate: Basic realm="GitHub"
  A missing repository is a 404 "Repository not found.", another path
  under /OWNER/NAME.git a 404, info/refs without a smart service a 403.
  Each request runs "git http-backend" as a CGI (GIT_PROJECT_ROOT=ROOT,
  GIT_HTTP_EXPORT_ALL, REMOTE_USER=x-access-token, which enables
  receive-pack; Content-Encoding and Git-Protocol passed on); its answer
  is sent chunked (with a Content-Length when the CGI gave one).

REST (at /repos/... and at /api/v3/repos/...):
  GET  /repos/OWNER/NAME            the repository: {id, name, full_name,
                                    owner: {login}, private: false,
                                    html_url, default_branch: the branch
                                    the bare repository's HEAD names}
  GET  /repos/OWNER/NAME/pulls      pull requests, newest first (?state=
                                    open|closed|all, default open; ?head=
                                    OWNER:REF, ?base=REF; ?per_page=N, 30
                                    unless given, at most 100, and ?page=N
                                    from 1)
  POST /repos/OWNER/NAME/pulls      {title, head, base, body, draft}: 201
                                    with the pull request; head and base
                                    must be branches of the repository,
                                    and no open pull request may have the
                                    same head and base, else 422
                                    Validation Failed
  GET  /repos/OWNER/NAME/pulls/N    one pull request, or 404
  auth: exactly one "Authorization: Bearer TOKEN" or "token TOKEN", else
        401 {"message":"Bad credentials","documentation_url":...}
  Anything else (after auth): 404 {"message":"Not Found",...}.
  A pull request: {url, id, number, state, title, body, html_url
  ("https://github.com/OWNER/NAME/pull/N"), user: {login: "sbxd-test-bot",
  type: "User"}, head: {label, ref, sha, repo}, base: {...}, draft,
  merged, created_at, updated_at, closed_at: null, merged_at: null}.  Pull
  requests live in memory.
  The token never appears in an answer's body.

A GitHub App (when FAKE_GITHUB_APP=APPID:INSTALLATION:OWNER:PUBKEY[:TTL]
is in the environment; TTL is seconds, 3600 if absent, or a file holding
them, read at each mint):
  POST /app/installations/INSTALLATION/access_tokens
  auth: "Authorization: Bearer JWT", an RS256 JWT issued by APPID (iss),
        iat and exp around now, at most 11 minutes apart, its signature
        checked with PUBKEY by openssl(1); else 401
  body: {"repositories": [NAME, ...], "permissions": {...}}, both
        optional; the names must be repositories of OWNER, else 422
  201 {token "ghs_...", expires_at, permissions, repository_selection}.
  A minted token is taken like TOKEN until it expires, for the
  repositories it was narrowed to (all of them otherwise).

Log: one JSON line per request, written before the answer's headers are
sent:
  {"conn": N, "method", "path" (as sent, with the query), "headers":
   {lowercased name: value, repeated ones joined by ", "}, "body_len"
   (after de-chunking, before any gunzip), "status", "kind": "git"|"rest"
   |"app"|null, "auth": bool, "repo": "OWNER/NAME"|null, "service":
   "git-upload-pack"|"git-receive-pack"|null, "refs": for a
   git-receive-pack POST, [{"old", "new", "ref"}] from the command
   pkt-lines at the start of the body, else null, "json": a REST request's
   JSON body or null, "error": a reason or null}
"""
import base64
import binascii
import hmac
import itertools
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1 << 30		# bytes of a request body
HEAD_KEEP = 1 << 20		# bytes of a receive-pack body kept for its commands
COPY = 64 << 10
DOCS = "https://docs.github.com/rest"
GIT_USER = "x-access-token"
SERVICES = ("git-upload-pack", "git-receive-pack")

log_lock = threading.Lock()
pr_lock = threading.Lock()
conns = itertools.count(1)
state = {"log": None, "root": None, "token": "", "git": "git",
         "pulls": {}, "next_id": 1, "app": None, "minted": {}}

NAME_RE = r"[A-Za-z0-9_.-]+"
GIT_RE = re.compile(r"^/(%s)/(%s?)(?:\.git)?/(info/refs|git-upload-pack|"
                    r"git-receive-pack)$" % (NAME_RE, NAME_RE))
GIT_ANY_RE = re.compile(r"^/(%s)/(%s)\.git(?:/.*)?$" % (NAME_RE, NAME_RE))
REPO_ANY_RE = re.compile(r"^(?:/api/v3)?/repos/([^/]+)/([^/]+)")
APP_RE = re.compile(r"^(?:/api/v3)?/app/installations/([0-9]+)/access_tokens$")
REST_RE = re.compile(r"^(?:/api/v3)?/repos/(%s)/(%s)/pulls(?:/([0-9]+))?/?$"
                     % (NAME_RE, NAME_RE))
REPO_RE = re.compile(r"^(?:/api/v3)?/repos/(%s)/(%s)/?$" % (NAME_RE, NAME_RE))
PR_USER = {"login": "sbxd-test-bot", "id": 1, "type": "User"}
PER_PAGE = 30			# GitHub's default page size
PER_PAGE_MAX = 100		# and its largest


def token_ok(value, repo):
    """Whether value is the token given on the command line, or one this
    server minted for the App, unexpired, for repo (OWNER/NAME) when it
    was narrowed to some."""
    if hmac.compare_digest(value.encode("latin-1"), state["token"].encode()):
        return True
    with pr_lock:
        got = state["minted"].get(value)
    if got is None or got[0] <= time.time():
        return False
    return got[1] is None or repo is None or \
        repo.lower() in (r.lower() for r in got[1])


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_jwt(jwt, app):
    """None if jwt is an RS256 JWT of the App, now valid; else why not.
    The signature is checked by openssl(1) with the App's public key."""
    parts = jwt.split(".")
    if len(parts) != 3:
        return "not three parts"
    try:
        head = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        return "not base64url JSON"
    if head.get("alg") != "RS256":
        return "alg %r" % head.get("alg")
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        return "no iat or exp"
    if iat > now + 60 or exp <= now or exp - iat > 660:
        return "iat %d exp %d at %d" % (iat, exp, now)
    if str(claims.get("iss")) != str(app["id"]):
        return "iss %r" % claims.get("iss")
    with tempfile.NamedTemporaryFile() as sf, \
            tempfile.NamedTemporaryFile() as df:
        sf.write(sig)
        sf.flush()
        df.write(("%s.%s" % (parts[0], parts[1])).encode())
        df.flush()
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                            app["pubkey"], "-signature", sf.name, df.name],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    return None if r.returncode == 0 else "bad signature"


def write_log(obj):
    line = json.dumps(obj) + "\n"
    with log_lock:
        state["log"].write(line)
        state["log"].flush()


def scrub(data):
    """bytes with the token replaced by ***."""
    tok = state["token"].encode()
    return data.replace(tok, b"***") if tok else data


def good_name(owner, name):
    return (owner and name and not owner.startswith(".") and
            not name.startswith(".") and not name.endswith(".git"))


def repo_dir(owner, name):
    return os.path.join(state["root"], owner, name + ".git")


def rev_parse(owner, name, branch):
    """The commit refs/heads/BRANCH names, or None."""
    if not branch or branch.startswith("-") or "\0" in branch:
        return None
    try:
        p = subprocess.run([state["git"], "--git-dir", repo_dir(owner, name),
                            "rev-parse", "--verify", "--quiet",
                            "refs/heads/%s^{commit}" % branch],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    out = p.stdout.decode("ascii", "replace").strip()
    return out if p.returncode == 0 and out else None


def default_branch(owner, name):
    """The branch the bare repository's HEAD names, or "main"."""
    try:
        p = subprocess.run([state["git"], "--git-dir", repo_dir(owner, name),
                            "symbolic-ref", "--quiet", "--short", "HEAD"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "main"
    out = p.stdout.decode("utf-8", "replace").strip()
    return out if p.returncode == 0 and out else "main"


def query_int(q, name, default):
    """A positive integer query parameter, else default."""
    try:
        v = int((q.get(name) or [""])[0])
    except ValueError:
        return default
    return v if v > 0 else default


def parse_commands(head, gzipped):
    """The ref update commands at the start of a receive-pack body: a list
    of {old, new, ref}, or None when they cannot be read."""
    if gzipped:
        try:
            head = zlib.decompressobj(31).decompress(head, HEAD_KEEP)
        except zlib.error:
            return None
    refs = []
    i = 0
    in_cert = False
    while True:
        if i + 4 > len(head):
            return None
        try:
            n = int(head[i:i + 4], 16)
        except ValueError:
            return None
        if n == 0:
            return refs
        if n < 4 or i + n > len(head):
            return None
        line = head[4 + i:i + n]
        i += n
        line = line.split(b"\0", 1)[0].rstrip(b"\n")
        if in_cert:
            if line == b"push-cert-end":
                in_cert = False
            continue
        if line == b"push-cert":
            in_cert = True
            continue
        if line.startswith(b"shallow "):
            continue
        f = line.split(b" ", 2)
        if len(f) != 3:
            return None
        refs.append({"old": f[0].decode("ascii", "replace"),
                     "new": f[1].decode("ascii", "replace"),
                     "ref": f[2].decode("utf-8", "replace")})


class BadBody(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120

    def version_string(self):
        return "fake-github"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.conn_id = next(conns)

    def send_error(self, code, message=None, explain=None):
        """Errors found while parsing the request line and headers: logged,
        a JSON body, the connection closed."""
        self.close_connection = True
        self.info = self.new_info()
        self.info["error"] = message
        self.send_json(code, {"message": message or "Bad Request",
                              "documentation_url": DOCS},
                       [("Connection", "close")])

    def new_info(self):
        headers = {}
        if getattr(self, "headers", None) is not None:
            for k, v in self.headers.items():
                k = k.lower()
                headers[k] = headers[k] + ", " + v if k in headers else v
        return {"conn": self.conn_id,
                "method": getattr(self, "command", None),
                "path": getattr(self, "path", None), "headers": headers,
                "body_len": 0, "status": None, "kind": None, "auth": False,
                "repo": None, "service": None, "refs": None, "json": None,
                "error": None}

    # -- input --

    def read_body(self, sink, keep):
        """Read the request body into sink (a file) or, when sink is None,
        into memory; returns (length, the first keep bytes)."""
        buf = bytearray()
        total = 0

        def take(data):
            nonlocal total
            total += len(data)
            if total > MAX_BODY:
                raise BadBody("body too large")
            if len(buf) < keep:
                buf.extend(data[:keep - len(buf)])
            if sink is not None:
                sink.write(data)

        te = self.headers.get("Transfer-Encoding", "").lower()
        if te:
            if te.replace(" ", "") != "chunked":
                raise BadBody("unsupported Transfer-Encoding")
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BadBody("bad chunk size line")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadBody("bad chunk size")
                if size < 0:
                    raise BadBody("bad chunk size")
                if size == 0:
                    while True:
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n"):
                            break
                        if not t.endswith(b"\n"):
                            raise BadBody("bad trailer")
                    return total, bytes(buf)
                while size > 0:
                    part = self.rfile.read(min(size, COPY))
                    if not part:
                        raise BadBody("short chunk")
                    take(part)
                    size -= len(part)
                if self.rfile.readline(8) not in (b"\r\n", b"\n"):
                    raise BadBody("bad chunk end")
        cl = self.headers.get_all("Content-Length") or []
        if len(cl) > 1:
            raise BadBody("several Content-Length")
        try:
            n = int(cl[0]) if cl else 0
        except ValueError:
            raise BadBody("bad Content-Length")
        if n < 0 or n > MAX_BODY:
            raise BadBody("bad Content-Length")
        while n > 0:
            part = self.rfile.read(min(n, COPY))
            if not part:
                raise BadBody("short body")
            take(part)
            n -= len(part)
        return total, bytes(buf)

    def credential(self):
        """(scheme lowercased, value) of the one Authorization header, or
        (None, None)."""
        got = self.headers.get_all("Authorization") or []
        if len(got) != 1:
            return None, None
        f = got[0].strip().split(None, 1)
        if len(f) != 2:
            return None, None
        return f[0].lower(), f[1].strip()

    def git_auth_ok(self, repo=None):
        scheme, value = self.credential()
        if scheme != "basic":
            return False
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, pw = raw.partition(b":")
        return (sep == b":" and user == GIT_USER.encode() and
                token_ok(pw.decode("latin-1"), repo))

    def rest_auth_ok(self, repo=None):
        scheme, value = self.credential()
        if scheme not in ("bearer", "token"):
            return False
        return token_ok(value, repo)

    # -- a GitHub App's installation tokens --

    def app_token(self, path):
        """POST /app/installations/ID/access_tokens, as GitHub: the App's
        JWT (RS256, checked with its public key) as a bearer token, a body
        that may narrow repositories and permissions; 201 with a token."""
        info = self.info
        info["kind"] = "app"
        n, raw = self.read_body(None, MAX_BODY)
        info["body_len"] = n
        try:
            body = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            body = None
        info["json"] = body
        app = state["app"]
        m = APP_RE.match(path)
        scheme, value = self.credential()
        why = None
        if app is None or self.command != "POST" or m is None:
            self.not_found()
            return
        if scheme != "bearer" or not value:
            why = "no JWT"
        else:
            why = check_jwt(value, app)
        info["auth"] = why is None
        if why is not None:
            info["error"] = "JWT: " + why
            self.send_json(401, {"message": "A JSON web token could not "
                                 "be decoded", "documentation_url": DOCS})
            return
        if int(m.group(1)) != app["installation"]:
            self.not_found()
            return
        if not isinstance(body, dict):
            info["error"] = "bad JSON"
            self.send_json(400, {"message": "Problems parsing JSON",
                                 "documentation_url": DOCS})
            return
        repos = body.get("repositories")
        if repos is not None and (not isinstance(repos, list) or not all(
                isinstance(r, str) and os.path.isdir(
                    repo_dir(app["owner"], r)) for r in repos)):
            self.invalid([{"resource": "Repository", "code": "invalid",
                           "field": "repositories"}])
            return
        token = "ghs_" + os.urandom(18).hex()
        ttl = app["ttl"]
        if not ttl.isdigit():
            with open(ttl) as f:
                ttl = f.read().strip()
        expires = int(time.time()) + int(ttl)
        with pr_lock:
            state["minted"][token] = (expires, None if repos is None else
                                      ["%s/%s" % (app["owner"], r)
                                       for r in repos])
        self.send_json(201, {
            "token": token,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                        time.gmtime(expires)),
            "permissions": body.get("permissions") or {"contents": "write"},
            "repository_selection": "all" if repos is None else "selected"})

    # -- output --

    def begin(self, status, headers):
        """Log the request, then send the status line and headers."""
        self.info["status"] = status
        write_log(self.info)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("X-GitHub-Request-Id", "FAKE:%d:%d" %
                         (self.conn_id, int(time.time() * 1000) % 10**9))
        self.end_headers()

    def send_bytes(self, status, ctype, data, extra=()):
        data = scrub(data)
        self.begin(status, [("Content-Type", ctype),
                            ("Content-Length", str(len(data)))] + list(extra))
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status, obj, extra=()):
        self.send_bytes(status, "application/json; charset=utf-8",
                        json.dumps(obj, indent=2).encode() + b"\n", extra)

    def send_text(self, status, text, extra=()):
        self.send_bytes(status, "text/plain; charset=utf-8", text.encode(),
                        extra)

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # -- dispatch --

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self):
        self.info = self.new_info()
        path = urlsplit(self.path).path
        m = GIT_RE.match(path)
        try:
            if APP_RE.match(path) or path.startswith("/app/"):
                self.app_token(path)
            elif m or GIT_ANY_RE.match(path):
                self.info["kind"] = "git"
                self.git(m, path)
            else:
                self.info["kind"] = "rest"
                self.rest(path)
        except BadBody as e:
            self.close_connection = True
            self.info["error"] = str(e)
            if self.info["status"] is None:
                self.send_text(400, "Bad request: %s\n" % e,
                               [("Connection", "close")])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError,
                TimeoutError) as e:
            self.close_connection = True
            if self.info["status"] is None:
                self.info["error"] = "client: %r" % e
                write_log(self.info)
        except Exception as e:
            self.close_connection = True
            sys.stderr.write("fake_github: %s %s: %r\n" %
                             (self.command, self.path, e))
            sys.stderr.flush()
            if self.info["status"] is None:
                self.info["error"] = "internal: %r" % e
                self.send_text(500, "fake_github: internal error\n",
                               [("Connection", "close")])

    # -- git --

    def git(self, m, path):
        info = self.info
        am = GIT_ANY_RE.match(path) or m
        owner, name = am.group(1), am.group(2)
        if name.endswith(".git"):
            name = name[:-4]
        info["repo"] = "%s/%s" % (owner, name)
        endpoint = m.group(3) if m else None
        service = None
        if endpoint == "info/refs":
            q = parse_qs(urlsplit(self.path).query)
            service = (q.get("service") or [None])[0]
            info["service"] = service
        elif endpoint:
            service = endpoint
            info["service"] = service
        receive = self.command == "POST" and service == "git-receive-pack"
        body = tempfile.TemporaryFile() if self.command == "POST" else None
        try:
            n, head = self.read_body(body, HEAD_KEEP if receive else 0)
            info["body_len"] = n
            if receive:
                enc = self.headers.get("Content-Encoding", "").lower()
                info["refs"] = parse_commands(head, enc in ("gzip",
                                                            "x-gzip"))
            info["auth"] = self.git_auth_ok("%s/%s" % (owner, name))
            if not info["auth"]:
                info["error"] = "bad credentials"
                self.send_text(401, "Invalid username or token. Password "
                               "authentication is not supported for Git "
                               "operations.\n",
                               [("WWW-Authenticate",
                                 'Basic realm="GitHub"')])
                return
            if not good_name(owner, name) or \
                    not os.path.isdir(repo_dir(owner, name)):
                info["error"] = "no repository"
                self.send_text(404, "Repository not found.\n")
                return
            if endpoint is None or \
                    (endpoint == "info/refs") != (self.command == "GET"):
                info["error"] = "not a smart HTTP route"
                self.send_text(404, "Not Found\n")
                return
            if service not in SERVICES:
                info["error"] = "not a smart HTTP service"
                self.send_text(403, "Please upgrade your git client.\n")
                return
            if body is not None:
                body.seek(0)
            self.cgi(owner, name, endpoint, body)
        finally:
            if body is not None:
                body.close()

    def cgi(self, owner, name, endpoint, body):
        info = self.info
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GIT_") and not k.startswith("HTTP_")
               and k not in ("CONTENT_LENGTH", "CONTENT_TYPE",
                             "QUERY_STRING", "PATH_INFO", "REQUEST_METHOD",
                             "REMOTE_USER", "REMOTE_ADDR", "PATH_TRANSLATED")}
        env.update({
            "GIT_PROJECT_ROOT": state["root"],
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": GIT_USER,
            "REMOTE_ADDR": self.client_address[0],
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "fake-github",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": "/%s/%s.git/%s" % (owner, name, endpoint),
            "QUERY_STRING": urlsplit(self.path).query,
        })
        ctype = self.headers.get("Content-Type")
        if ctype:
            env["CONTENT_TYPE"] = ctype
        if self.command == "POST" and \
                not self.headers.get("Transfer-Encoding"):
            env["CONTENT_LENGTH"] = str(info["body_len"])
        enc = self.headers.get("Content-Encoding")
        if enc:
            env["HTTP_CONTENT_ENCODING"] = enc.strip()
        proto = self.headers.get("Git-Protocol")
        if proto:
            proto = "".join(c for c in proto if " " <= c < "\x7f")
            env["GIT_PROTOCOL"] = proto
            env["HTTP_GIT_PROTOCOL"] = proto
        proc = subprocess.Popen([state["git"], "http-backend"], env=env,
                                stdin=body if body is not None
                                else subprocess.DEVNULL,
                                stdout=subprocess.PIPE)
        try:
            self.relay(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()

    def relay(self, proc):
        """Send the CGI's answer."""
        status, headers, length = 200, [], None
        out = proc.stdout
        got = False
        while True:
            line = out.readline(8192)
            if not line:
                break
            got = True
            line = line.rstrip(b"\r\n")
            if not line:
                break
            k, sep, v = line.decode("latin-1").partition(":")
            k, v = k.strip(), v.strip()
            if not sep:
                continue
            kl = k.lower()
            if kl == "status":
                try:
                    status = int(v.split()[0])
                except (ValueError, IndexError):
                    status = 502
            elif kl == "content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
            elif kl not in ("transfer-encoding", "connection"):
                headers.append((k, v))
        if not got:
            self.info["error"] = "http-backend gave no answer (exit %s)" % \
                proc.wait()
            self.send_text(502, "http-backend gave no answer\n")
            return
        if length is not None:
            self.begin(status, headers + [("Content-Length", str(length))])
            left = length
            while left > 0:
                data = out.read1(min(left, COPY))
                if not data:
                    self.close_connection = True
                    return
                self.wfile.write(data)
                left -= len(data)
            return
        self.begin(status, headers + [("Transfer-Encoding", "chunked")])
        while True:
            data = out.read1(COPY)
            if not data:
                break
            self.write_chunk(data)
        self.wfile.write(b"0\r\n\r\n")
        rc = proc.wait()
        if rc != 0:
            sys.stderr.write("fake_github: http-backend %s exit %d\n" %
                             (self.info["path"], rc))
            sys.stderr.flush()

    # -- REST --

    def rest(self, path):
        info = self.info
        n, raw = self.read_body(None, MAX_BODY)
        info["body_len"] = n
        body = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                bad_json = True
        info["json"] = body
        rm = REPO_ANY_RE.match(path)
        info["auth"] = self.rest_auth_ok("%s/%s" % (rm.group(1), rm.group(2))
                                         if rm else None)
        if not info["auth"]:
            info["error"] = "bad credentials"
            self.send_json(401, {"message": "Bad credentials",
                                 "documentation_url": DOCS})
            return
        m = REPO_RE.match(path)
        if m:
            self.get_repo(m.group(1), m.group(2))
            return
        m = REST_RE.match(path)
        if not m:
            self.not_found()
            return
        owner, name, num = m.group(1), m.group(2), m.group(3)
        info["repo"] = "%s/%s" % (owner, name)
        if not good_name(owner, name) or \
                not os.path.isdir(repo_dir(owner, name)):
            self.not_found()
            return
        if num is not None:
            if self.command != "GET":
                self.not_found()
                return
            with pr_lock:
                pr = state["pulls"].get((owner, name), {}).get(int(num))
            if pr is None:
                self.not_found()
                return
            self.send_json(200, pr)
        elif self.command == "GET":
            self.list_pulls(owner, name)
        elif self.command == "POST":
            if bad_json or (raw and not isinstance(body, dict)):
                info["error"] = "bad JSON"
                self.send_json(400, {"message": "Problems parsing JSON",
                                     "documentation_url": DOCS})
                return
            self.create_pull(owner, name, body or {})
        else:
            self.not_found()

    def get_repo(self, owner, name):
        self.info["repo"] = "%s/%s" % (owner, name)
        if self.command != "GET" or not good_name(owner, name) or \
                not os.path.isdir(repo_dir(owner, name)):
            self.not_found()
            return
        self.send_json(200, {
            "id": zlib.crc32(("%s/%s" % (owner, name)).encode()),
            "name": name,
            "full_name": "%s/%s" % (owner, name),
            "owner": {"login": owner, "type": "User"}, "private": False,
            "html_url": "https://github.com/%s/%s" % (owner, name),
            "url": "https://api.github.com/repos/%s/%s" % (owner, name),
            "default_branch": default_branch(owner, name)})

    def not_found(self):
        self.info["error"] = "not found"
        self.send_json(404, {"message": "Not Found",
                             "documentation_url": DOCS})

    def invalid(self, errors):
        self.info["error"] = "validation failed"
        self.send_json(422, {"message": "Validation Failed",
                             "errors": errors,
                             "documentation_url": DOCS})

    def list_pulls(self, owner, name):
        q = parse_qs(urlsplit(self.path).query)
        want = (q.get("state") or ["open"])[0]
        head = (q.get("head") or [None])[0]
        base = (q.get("base") or [None])[0]
        with pr_lock:
            prs = sorted(state["pulls"].get((owner, name), {}).values(),
                         key=lambda p: -p["number"])
        out = []
        for p in prs:
            if want != "all" and p["state"] != want:
                continue
            if head is not None and p["head"]["label"] != head:
                continue
            if base is not None and p["base"]["ref"] != base:
                continue
            out.append(p)
        per = min(query_int(q, "per_page", PER_PAGE), PER_PAGE_MAX)
        page = query_int(q, "page", 1)
        self.send_json(200, out[(page - 1) * per:page * per])

    def create_pull(self, owner, name, body):
        title = body.get("title")
        head = body.get("head")
        base = body.get("base")
        if not isinstance(title, str) or not title:
            self.invalid([{"resource": "PullRequest", "code":
                           "missing_field", "field": "title"}])
            return
        if not isinstance(head, str) or not head:
            self.invalid([{"resource": "PullRequest", "code":
                           "missing_field", "field": "head"}])
            return
        if not isinstance(base, str) or not base:
            self.invalid([{"resource": "PullRequest", "code":
                           "missing_field", "field": "base"}])
            return
        href = head
        if ":" in head:
            ho, _, href = head.partition(":")
            if ho != owner:
                href = None
        hsha = rev_parse(owner, name, href) if href else None
        if hsha is None:
            self.invalid([{"resource": "PullRequest", "field": "head",
                           "code": "invalid"}])
            return
        bsha = rev_parse(owner, name, base)
        if bsha is None:
            self.invalid([{"resource": "PullRequest", "field": "base",
                           "code": "invalid"}])
            return
        text = body.get("body")
        if not isinstance(text, str):
            text = None
        repo = {"full_name": "%s/%s" % (owner, name), "name": name,
                "owner": {"login": owner}}
        label = "%s:%s" % (owner, href)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        pr = None
        with pr_lock:
            prs = state["pulls"].setdefault((owner, name), {})
            dup = any(p["state"] == "open" and p["head"]["label"] == label
                      and p["base"]["ref"] == base for p in prs.values())
            if not dup:
                num = max(prs.keys(), default=0) + 1
                pid = state["next_id"]
                state["next_id"] += 1
                pr = {"url": "https://api.github.com/repos/%s/%s/pulls/%d" %
                      (owner, name, num),
                      "id": pid, "number": num, "state": "open",
                      "title": title, "body": text,
                      "html_url": "https://github.com/%s/%s/pull/%d" %
                      (owner, name, num),
                      "user": dict(PR_USER),
                      "head": {"label": label, "ref": href,
                               "sha": hsha, "repo": repo},
                      "base": {"label": "%s:%s" % (owner, base),
                               "ref": base, "sha": bsha, "repo": repo},
                      "draft": body.get("draft") is True, "merged": False,
                      "created_at": now, "updated_at": now,
                      "closed_at": None, "merged_at": None}
                prs[num] = pr
        if pr is None:
            self.invalid([{"resource": "PullRequest", "code": "custom",
                           "message": "A pull request already exists for "
                           "%s." % label}])
            return
        self.send_json(201, pr, [("Location", pr["url"])])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def shutdown_request(self, request):
        """Close a connection with a TLS close_notify."""
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(1)
                request.unwrap()
            except (OSError, ValueError):
                pass
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        sys.stderr.write("fake_github: %s: %r\n" % (client_address, e))
        sys.stderr.flush()


def main():
    if len(sys.argv) != 8:
        sys.stderr.write("usage: fake_github.py ADDR PORT CERT KEY ROOT LOG "
                         "TOKEN\n")
        sys.exit(2)
    addr, port, cert, key, root, logpath, token = sys.argv[1:]
    if not token:
        sys.stderr.write("fake_github: empty TOKEN\n")
        sys.exit(2)
    state["root"] = os.path.abspath(root)
    state["token"] = token
    state["git"] = shutil.which("git") or "git"
    state["log"] = open(logpath, "a")
    app = os.environ.get("FAKE_GITHUB_APP")
    if app:
        f = app.split(":")
        state["app"] = {"id": int(f[0]), "installation": int(f[1]),
                        "owner": f[2], "pubkey": f[3],
                        "ttl": f[4] if len(f) > 4 else "3600"}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert, key)
    srv = Server((addr, int(port)), Handler)
    # The handshake happens on the first read, in the connection's thread.
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
