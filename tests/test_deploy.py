"""deploy/: the images, the systemd unit and the SSO proxy, checked the way an administrator would.

The images themselves are built by ``make image`` (root, minutes), not here; here
the Containerfile is linted (hadolint, from PyPI), the pipeline's image tag is
held to the image's inputs, the unit passes ``systemd-analyze verify``, and
Debian's nginx runs deploy/nginx/liaison.conf on loopback in front of the real
form, with a tiny stand-in for the CAS client's check.
"""

from __future__ import annotations

import configparser
import html
import http.client
import http.server
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import test_pipeline
import yaml
from conftest import PROJECT, PROXY_SECRET, built_copy, git, good_form
from ports import free_port, listens
from webclient import ServerThread

from liaison.core.config import ServerLimits
from liaison.web.chinese import too_large

DEPLOY = PROJECT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CAS_COOKIE = "CASSESSION=ticket-of-zhao"


def test_the_containerfile_passes_hadolint():
    done = subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "hadolint"), "--no-color", str(DEPLOY / "Containerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pipeline_uses_the_image_built_from_today_s_inputs():
    """The ci image's tag is the hash of its inputs; an edited pin or Containerfile needs a new tag."""
    tag = subprocess.run(
        ["bash", "scripts/build-image.sh", "--tag"], cwd=PROJECT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    variables = yaml.safe_load((PROJECT / ".gitlab-ci.yml").read_text(encoding="utf-8"))["variables"]
    assert variables["LIAISON_CI_IMAGE_TAG"] == tag, (
        f"deploy/Containerfile、pyproject.toml 或 scripts/setup.sh 已改动：请把 .gitlab-ci.yml 的 "
        f"LIAISON_CI_IMAGE_TAG 改为 {tag}（bash scripts/build-image.sh --tag）"
    )


def test_the_image_installs_setup_sh_s_own_package_list():
    listed = subprocess.run(
        ["bash", "scripts/setup.sh", "packages"], cwd=PROJECT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert {"libharfbuzz-subset0", "fonts-arphic-uming", "fonts-wqy-microhei", "fonts-hanazono", "git"} <= set(listed)
    assert "$(bash scripts/setup.sh packages)" in (DEPLOY / "Containerfile").read_text(encoding="utf-8")


def test_setup_sh_finds_every_package_it_names_installed_here(tmp_path):
    """setup.sh as the README's commands run it (no LIAISON_VENV) installs nothing on this machine, set up by it.

    test_readme runs those commands with LIAISON_VENV, which skips the package check, so a package name Debian
    does not have, or one added without installing it, would otherwise go unnoticed until a fresh machine. Here
    apt-get refuses, and the environment is a stand-in whose stamp says it is installed (pip never runs)."""
    import hashlib

    shutil.copytree(PROJECT / "scripts", tmp_path / "scripts")
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    stamp = hashlib.sha256((PROJECT / "pyproject.toml").read_bytes()).hexdigest()
    (tmp_path / ".venv" / ".liaison-installed").write_text(f"{stamp} .[test]\n", encoding="utf-8")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "node_modules").symlink_to(PROJECT / "tools" / "node_modules")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "apt-get").write_text('#!/bin/sh\necho "apt-get $*" >&2\nexit 1\n', encoding="utf-8")
    (tmp_path / "bin" / "apt-get").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "LIAISON_VENV"}
    env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    done = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "apt-get" not in done.stderr, done.stdout + done.stderr


def jobs_listed(repo: Path, **variables: str) -> set[str]:
    """The jobs gitlab-ci-local would run (rules evaluated, changes against origin/main), without running them."""
    command = [str(test_pipeline.GITLAB_CI_LOCAL), test_pipeline.NO_SCHEMA, "--list-csv"]
    command += ["--ignore-predefined-vars", ",".join(variables)]
    for key, value in variables.items():
        command += ["--variable", f"{key}={value}"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=100, check=True)
    table = done.stdout.split("name;description;stage;when;allowFailure;needs\n", 1)[1]  # after any warnings
    return {line.split(";", 1)[0] for line in table.splitlines() if line}


@pytest.mark.parametrize(
    "changed, source, registry, built",
    [
        ("deploy/Containerfile", "merge_request_event", True, True),
        ("pyproject.toml", "push", True, True),
        ("records", "merge_request_event", True, False),
        ("deploy/Containerfile", "merge_request_event", False, False),
        ("deploy/Containerfile", "schedule", True, False),
    ],
)
def test_the_image_job_runs_only_when_its_inputs_change_and_there_is_a_registry(
    pipeline_repo, changed, source, registry, built
):
    if changed == "records":
        test_pipeline.commit_on_branch(pipeline_repo, "record/one", leader_id="T2012003", leader="赵敏")
    else:
        if source != "push":  # a push pipeline runs on main only
            git(pipeline_repo, "checkout", "-q", "-b", "change")
        with (pipeline_repo / changed).open("a", encoding="utf-8") as file:
            file.write("\n# changed\n")
        git(pipeline_repo, "commit", "-q", "-am", "改动")
    variables = {"CI_PIPELINE_SOURCE": source, "SEMESTER": "current"}
    if not registry:
        variables["CI_REGISTRY_IMAGE"] = ""
    jobs = jobs_listed(pipeline_repo, **variables)
    assert ("ci-image" in jobs) == built, jobs
    assert jobs - {"ci-image"}, "the pipeline's other jobs still run"


# ---------------------------------------------------------------- the systemd unit


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / "liaison-form.service", encoding="utf-8")
    return parser


def test_the_unit_is_hardened_and_keeps_its_secrets_outside_the_repository():
    service = unit()["Service"]
    assert service["DynamicUser"] == "yes" or service.get("User") not in (None, "root")
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["Restart"] == "on-failure" and service["StandardOutput"] == "journal"
    assert service["EnvironmentFile"].startswith("/etc/")
    command = service["ExecStart"].split()
    data = command[command.index("--data") + 1]
    assert any(data.startswith(path + "/") for path in service["ReadWritePaths"].split())
    assert command[command.index("--host") + 1] == "127.0.0.1"


@pytest.mark.skipif(
    not shutil.which("systemd-analyze"), reason="systemd-analyze 不在本机（非 systemd 系统），跳过单元检查"
)
@pytest.mark.parametrize("broken", [None, ("ProtectSystem=strict", "ProtectSystem=stric")])
def test_systemd_analyze_verify_accepts_the_unit_and_notices_a_typo(tmp_path, broken):
    text = (DEPLOY / "liaison-form.service").read_text(encoding="utf-8")
    # verify insists that ExecStart's program exists; the one path this machine lacks.
    text = text.replace("/opt/liaison/.venv/bin/python", sys.executable)
    if broken:
        text = text.replace(*broken)
    path = tmp_path / "liaison-form.service"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on settings it ignores; every complaint it prints counts.
    complaints = done.stdout + done.stderr
    if broken:
        assert "ignoring: stric" in complaints
    else:
        assert done.returncode == 0 and complaints.strip() == "", complaints


# ---------------------------------------------------------------- nginx in front of the form


def start_nginx(config: Path, ports: dict, timeout: float = 20) -> subprocess.Popen | None:
    """nginx on ``config``, once it holds both its ports; None when it gave up (a port was taken meanwhile).

    Waits on nginx's own listening sockets (tests/ports.py): an answer on the port could be another worker's
    server, or this nginx with one port bound and still retrying the other, which resets what it took.
    """
    error_log = config.parent / "error.log"
    nginx = subprocess.Popen(
        [NGINX, "-p", str(config.parent), "-e", str(error_log), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while not (listens(nginx.pid, ports["http"]) and listens(nginx.pid, ports["https"])):
        if nginx.poll() is not None:
            if "Address already in use" in error_log.read_text(errors="replace"):
                return None
            raise AssertionError(f"nginx exited: {error_log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            stop_nginx(nginx)
            raise AssertionError(f"nginx did not listen on {ports}: {error_log.read_text(errors='replace')}")
        time.sleep(0.05)  # not listening yet: ask again shortly, not in a tight loop
    return nginx


def stop_nginx(nginx: subprocess.Popen) -> None:
    nginx.send_signal(signal.SIGQUIT)  # graceful stop
    try:
        nginx.wait(timeout=20)
    except subprocess.TimeoutExpired:
        nginx.kill()
        nginx.wait(timeout=20)


def self_signed_certificate(tmp_path_factory, directory: Path) -> None:
    """form.pem and form.key in directory: a throwaway certificate for form.example.edu.cn, made once per run
    (``built_copy``: a 2048-bit key costs openssl a tenth of a CPU-second)."""

    def build(folder: Path) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=form.example.edu.cn",
            ]
            + ["-keyout", str(folder / "form.key"), "-out", str(folder / "form.pem")],
            check=True,
            capture_output=True,
            timeout=60,
        )

    built_copy(tmp_path_factory, "form-certificate", build, directory)


def nginx_config(tmp_path_factory, tmp_path: Path, ports: dict, name: str = "nginx") -> Path:
    """deploy/nginx/liaison.conf with this test's ports and files, inside an nginx.conf of its own (in ``name``)."""
    prefix = tmp_path / name
    (prefix / "temp").mkdir(parents=True)
    self_signed_certificate(tmp_path_factory, prefix)
    (prefix / "liaison-secret.conf").write_text(f'proxy_set_header X-Liaison-Proxy-Secret "{PROXY_SECRET}";\n')
    site = (DEPLOY / "nginx" / "liaison.conf").read_text(encoding="utf-8")
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{ports['http']};",
        "listen 443 ssl;": f"listen 127.0.0.1:{ports['https']} ssl;",
        "http://127.0.0.1:8080": f"http://127.0.0.1:{ports['form']}",
        "http://127.0.0.1:8090": f"http://127.0.0.1:{ports['cas']}",
        "/etc/ssl/certs/form.example.edu.cn.pem": str(prefix / "form.pem"),
        "/etc/ssl/private/form.example.edu.cn.key": str(prefix / "form.key"),
        "/etc/nginx/liaison-secret.conf": str(prefix / "liaison-secret.conf"),
    }
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx/liaison.conf no longer has {old!r}: update this test"
        site = site.replace(old, new)
    (prefix / "liaison.conf").write_text(site, encoding="utf-8")
    temp = prefix / "temp"
    main = prefix / "nginx.conf"
    main.write_text(
        # As root, nginx would hand its workers to nobody, who cannot enter pytest's private tmp_path.
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        + "events { worker_connections 64; }\n"
        + "http {\n"
        + f"  access_log {prefix / 'access.log'};\n"
        + "".join(
            f"  {kind}_temp_path {temp / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {prefix / 'liaison.conf'};\n"
        + "}\n",
        encoding="utf-8",
    )
    return main


def test_nginx_accepts_the_configuration(tmp_path_factory, tmp_path):
    ports = {name: free_port() for name in ("http", "https", "form", "cas")}
    config = nginx_config(tmp_path_factory, tmp_path, ports)
    done = subprocess.run(
        [NGINX, "-t", "-p", str(config.parent), "-e", str(config.parent / "error.log"), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr


class StandInCas(http.server.BaseHTTPRequestHandler):
    """The CAS client's /auth as nginx sees it: 200 and the login for one session cookie, 401 otherwise."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        if self.path == "/auth" and CAS_COOKIE in (self.headers.get("Cookie") or ""):
            self.send_response(200)
            self.send_header("X-CAS-User", "zhao")
        elif self.path == "/auth":
            self.send_response(401)
        else:
            self.send_response(200)  # /cas/login and the rest of the client's pages
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(tmp_path_factory, tmp_path, form_repo, make_app, live):
    """nginx with deploy/nginx/liaison.conf on loopback, before the real form and a stand-in CAS check.

    Yields (ports, seen): ``seen`` lists the X-Remote-User of every request that reached the form.
    """
    seen = []
    app = make_app(form_repo, start_worker=False)
    inner = app.wsgi_app

    def recording(environ, start_response):
        seen.append(environ.get("HTTP_X_REMOTE_USER"))
        return inner(environ, start_response)

    app.wsgi_app = recording
    cas_thread = ServerThread(http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandInCas))
    ports = {"form": live(app), "cas": cas_thread.server.server_address[1]}
    nginx = None
    try:
        for attempt in range(5):  # another server took a port between its choice and nginx's bind: new ports
            ports["http"] = free_port(ports.values())
            ports["https"] = free_port(ports.values())
            nginx = start_nginx(nginx_config(tmp_path_factory, tmp_path, ports, f"nginx-{attempt}"), ports)
            if nginx is not None:
                break
        assert nginx is not None, f"nginx found a port taken five times over: {ports}"
        yield ports, seen
    finally:
        if nginx is not None:
            stop_nginx(nginx)
        cas_thread.close()


class Browser:
    """HTTPS to nginx by name, with a cookie jar: what a leader's browser sends."""

    def __init__(self, port: int, cookies: str = ""):
        self.port = port
        self.cookies = dict(pair.split("=", 1) for pair in cookies.split("; ") if pair)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA bundle read (a default context's 30 ms)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60, context=context)
        sent = {"Host": "form.example.edu.cn", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        reply = response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, value = value.split(";", 1)[0].split("=", 1)
                self.cookies[key] = value
        connection.close()
        return reply


def test_a_leader_with_a_cas_session_reaches_the_form_as_themself_and_submits(proxy):
    ports, seen = proxy
    browser = Browser(ports["https"], CAS_COOKIE)
    status, headers, page = browser.request("GET", "/new")
    assert status == 200 and 'value="赵某" readonly' in page
    assert "X-Liaison-Proxy-Secret" not in headers
    fields = good_form()
    fields["csrf_token"] = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    fields["token"] = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    body = urllib.parse.urlencode(fields).encode()
    status, headers, _ = browser.request("POST", "/new", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status in (302, 303) and "/records/" in headers["Location"]
    assert seen and set(seen) == {"zhao"}


@pytest.mark.parametrize(
    "cookies, forged",
    [
        (CAS_COOKIE, {"X-Remote-User": "zhangwei"}),
        (CAS_COOKIE, {"x-remote-user": "zhangwei", "X-Liaison-Proxy-Secret": PROXY_SECRET}),
        (CAS_COOKIE, {"X_Remote_User": "zhangwei"}),
        ("", {"X-Remote-User": "zhangwei", "X-Liaison-Proxy-Secret": PROXY_SECRET}),
        ("", {"X_Remote_User": "zhangwei", "X_Liaison_Proxy_Secret": PROXY_SECRET}),
        ("CASSESSION=forged", {"X-Remote-User": "zhao"}),
    ],
)
def test_a_forged_user_header_from_the_client_never_reaches_the_form(proxy, cookies, forged):
    ports, seen = proxy
    status, headers, page = Browser(ports["https"], cookies).request("GET", "/new", headers=forged)
    assert "zhangwei" not in seen and "张伟" not in page
    if cookies == CAS_COOKIE:
        assert status == 200 and 'value="赵某" readonly' in page and seen == ["zhao"]
    else:
        assert status == 302 and "/cas/login" in headers["Location"] and seen == []


def test_without_a_cas_session_the_form_is_not_reached(proxy):
    ports, seen = proxy
    status, headers, _ = Browser(ports["https"]).request("GET", "/new")
    assert status == 302 and headers["Location"].startswith("https://form.example.edu.cn/cas/login")
    assert seen == []


def test_gitlab_s_webhook_passes_without_a_cas_session_as_no_one_and_proves_itself(proxy, monkeypatch):
    """POST /hooks/gitlab is exempt from CAS (GitLab has no session); the form's own token check decides."""
    ports, seen = proxy
    monkeypatch.setenv("LIAISON_GITLAB_WEBHOOK_SECRET", "hook-secret-0123456789")
    body = b'{"object_kind": "pipeline", "object_attributes": {"id": 1, "status": "running"}}'
    forged = {"Content-Type": "application/json", "X-Gitlab-Event": "Pipeline Hook", "X-Remote-User": "zhao"}
    browser = Browser(ports["https"])
    status, _, _ = browser.request("POST", "/hooks/gitlab", body, {**forged, "X-Gitlab-Token": "guess"})
    assert status == 401
    status, _, answer = browser.request(
        "POST", "/hooks/gitlab", body, {**forged, "X-Gitlab-Token": "hook-secret-0123456789"}
    )
    assert status == 200 and '"ok":true' in answer.replace(" ", "")
    assert seen == [None, None]  # reached the form, and never as a user, whatever the client sent
    status, headers, _ = browser.request("GET", "/hooks/gitlab")
    assert status == 403 and seen == [None, None]  # only POST passes
    status, headers, _ = browser.request("POST", "/hooks/gitlab/../new", b"", forged)
    assert status in (302, 403) and seen == [None, None]


def test_plain_http_only_sends_the_browser_to_https(proxy):
    ports, seen = proxy
    connection = http.client.HTTPConnection("127.0.0.1", ports["http"], timeout=30)
    connection.request("GET", "/new", headers={"Host": "form.example.edu.cn", "Cookie": CAS_COOKIE})
    response = connection.getresponse()
    assert response.status == 301 and response.getheader("Location") == "https://form.example.edu.cn/new"
    connection.close()
    assert seen == []


def test_nginx_refuses_a_body_over_the_form_s_limit_in_the_form_s_words_before_the_form_sees_it(proxy):
    ports, seen = proxy
    body = b"content=" + b"a" * (ServerLimits().max_body_kb * 1024)
    for cookies in (CAS_COOKIE, ""):
        status, headers, page = Browser(ports["https"], cookies).request(
            "POST", "/new", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 413 and too_large(ServerLimits()) in page
        assert "Content-Security-Policy" not in headers  # nginx's own page: the form's would carry one
    assert seen == []


def test_the_proxies_body_limit_is_the_form_s_in_the_form_s_words():
    """The proxy must refuse first: a body the form refuses after the proxy passed it on costs the form a read."""
    nginx = (DEPLOY / "nginx" / "liaison.conf").read_text(encoding="utf-8")
    assert f"client_max_body_size {ServerLimits().max_body_kb}k;" in nginx
    assert too_large(ServerLimits()) in nginx
    apache = (DEPLOY / "apache" / "liaison.conf").read_text(encoding="utf-8")
    assert f"LimitRequestBody {ServerLimits().max_body_kb * 1024}\n" in apache
    assert too_large(ServerLimits()) in html.unescape(apache.split("ErrorDocument 413 ", 1)[1].split("\n", 1)[0])


# ---------------------------------------------------------------- Apache with mod_auth_cas

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")


@pytest.mark.skipif(
    not (Path(APACHE).exists() and (MODULES / "mod_auth_cas.so").exists()),
    reason="没有安装 apache2 与 libapache2-mod-auth-cas：请先运行 scripts/setup.sh（它会安装），再检查 Apache 配置",
)
def test_apache_with_mod_auth_cas_accepts_the_configuration(tmp_path_factory, tmp_path):
    """`apache2 -t` on deploy/apache/liaison.conf, with this test's certificate and secret files."""
    self_signed_certificate(tmp_path_factory, tmp_path)
    (tmp_path / "secret.conf").write_text(f'RequestHeader set X-Liaison-Proxy-Secret "{PROXY_SECRET}"\n')
    (tmp_path / "cas").mkdir()
    site = (DEPLOY / "apache" / "liaison.conf").read_text(encoding="utf-8")
    replacements = {
        "/etc/ssl/certs/form.example.edu.cn.pem": str(tmp_path / "form.pem"),
        "/etc/ssl/private/form.example.edu.cn.key": str(tmp_path / "form.key"),
        "/etc/apache2/liaison-secret.conf": str(tmp_path / "secret.conf"),
        "/var/cache/apache2/mod_auth_cas/": f"{tmp_path / 'cas'}/",
    }
    for old, new in replacements.items():
        assert old in site, f"deploy/apache/liaison.conf no longer has {old!r}: update this test"
        site = site.replace(old, new)
    (tmp_path / "liaison.conf").write_text(site, encoding="utf-8")
    modules = ["mpm_event", "authn_core", "authz_core", "authz_user", "alias", "headers", "ssl", "proxy", "proxy_http"]
    modules.append("reqtimeout")
    main = tmp_path / "httpd.conf"
    main.write_text(
        "".join(f"LoadModule {name}_module {MODULES / f'mod_{name}.so'}\n" for name in modules)
        + f"LoadModule auth_cas_module {MODULES / 'mod_auth_cas.so'}\n"
        + f"ServerName localhost\nPidFile {tmp_path / 'httpd.pid'}\nErrorLog {tmp_path / 'error.log'}\n"
        + f"Include {tmp_path / 'liaison.conf'}\n",
        encoding="utf-8",
    )
    done = subprocess.run([APACHE, "-t", "-f", str(main)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Syntax OK" in done.stderr, done.stderr
