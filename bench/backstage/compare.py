#!/usr/bin/env python3
"""`make bench-compare`: Backstage's catalog backend and the console side by side, in one run, on
one generated catalog, measured by the same client.

1. Writes the catalog (gen_catalog.py; BENCH_COMPONENTS, default 20000, in BENCH_GROUPS, default
   300) under target/bench-compare/catalog.
2. Installs Backstage's pinned packages (npm ci in bench/backstage) when they are missing.
3. Starts a private PostgreSQL for Backstage on 127.0.0.1:BENCH_PG_PORT (5433) in a scratch
   directory (the main server on 5432 is not touched), then Backstage; times its ingestion: from
   the process start until entity-facets counts every Component.
4. Starts the release console (target/release/console; built only when missing) on SQLite with
   the same directory as `catalog_dir`; times its import: from the process start until /readyz
   answers (the import at start runs before the console listens) and checks the count.
5. Per request shape, after BENCH_WARMUP (20) warm-up requests, BENCH_RUNS (200) requests to each
   side, the two sides alternating, each request on a fresh TCP connection (like a fresh curl),
   the whole body read. Each side's floor is the same client's p50 for a trivial endpoint:
   Backstage's /.backstage/health/v1/readiness, the console's /healthz signed in.
6. Stops that console and runs a second one on PostgreSQL (a scratch database on the main server,
   TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test, dropped afterwards), measured
   the same way (alone: Backstage idles meanwhile).
7. Prints the table and writes it to target/bench-compare/result.md; logs of every process are
   kept there too. Every process it started and the private PostgreSQL are stopped at the end,
   also on failure or Ctrl-C.

BENCH_CONSOLE_BIN=PATH: measure that console binary instead of target/release/console.
BENCH_WAIT_WHILE=FILE: before each CPU-heavy phase, wait (polling every 60 s) while FILE exists
(e.g. another benchmark's marker on a shared machine).
"""

import datetime
import glob
import http.client
import json
import math
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import gen_catalog  # noqa: E402

OUT = os.path.join(ROOT, "target", "bench-compare")
COMPONENTS, GROUPS = gen_catalog.sizes()
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "20"))
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5433"))
PROCESSING_MINUTES = int(os.environ.get("BACKSTAGE_PROCESSING_MINUTES", "1440"))
INGEST_TIMEOUT = float(os.environ.get("BENCH_INGEST_TIMEOUT", "2400"))
WAIT_WHILE = os.environ.get("BENCH_WAIT_WHILE", "")
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
CONSOLE_BIN = os.environ.get("BENCH_CONSOLE_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "console")
LOGIN = gen_catalog.member_name(0, 0)
LOAD = []  # the 1-minute load average as each measurement round began
PAGE = 50


def log(message):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def wait_quiet(what):
    if WAIT_WHILE and os.path.exists(WAIT_WHILE):
        log(f"{WAIT_WHILE} exists: waiting before {what}")
        while os.path.exists(WAIT_WHILE):
            time.sleep(60)
        log(f"{WAIT_WHILE} gone: {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------- processes and clean-up

class Cleanup:
    """Everything started, undone in reverse order whatever happens."""

    def __init__(self):
        self.steps = []

    def add(self, what, fn):
        self.steps.append((what, fn))

    def run(self):
        while self.steps:
            what, fn = self.steps.pop()
            try:
                fn()
            except Exception as e:  # keep undoing the rest
                log(f"clean-up of {what} failed: {e}")


CLEANUP = Cleanup()


def spawn(name, cmd, env, cwd):
    """Starts `cmd` in its own process group, output to OUT/name.log; stopped at clean-up."""
    out = open(os.path.join(OUT, f"{name}.log"), "w")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()

    def stop():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    CLEANUP.add(name, stop)
    proc.stop = stop
    return proc


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def alive(proc, name):
    if proc.poll() is not None:
        raise SystemExit(f"{name} exited with {proc.returncode}: see {OUT}/{name}.log")


# ---------------------------------------------------------------- the client

def request(port, path, headers=None, method="GET", body=None):
    """One request on a fresh connection; (status, body, seconds, response headers)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        data = reply.read()
        took = time.perf_counter() - start
        return reply.status, data, took, reply.msg
    finally:
        conn.close()


class Side:
    def __init__(self, name, port, headers, proc):
        self.name, self.port, self.headers, self.proc = name, port, headers, proc

    def get(self, path):
        status, data, took, _ = request(self.port, path, self.headers)
        if status != 200:
            raise SystemExit(f"{self.name} GET {path}: {status} {data[:300]!r}")
        return data, took

    def json(self, path):
        return json.loads(self.get(path)[0])


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(sides_paths):
    """sides_paths: [(side, path)]; the sides alternate (order flipped every run).
    Returns per side {p50, p99, bytes} in ms."""
    for _ in range(WARMUP):
        for side, path in sides_paths:
            side.get(path)
    times = [[] for _ in sides_paths]
    size = [0] * len(sides_paths)
    order = list(range(len(sides_paths)))
    for run in range(RUNS):
        for k in (order if run % 2 == 0 else order[::-1]):
            side, path = sides_paths[k]
            data, took = side.get(path)
            times[k].append(took * 1e3)
            size[k] = len(data)
    return [{"p50": percentile(t, 50), "p99": percentile(t, 99), "bytes": size[k]} for k, t in enumerate(times)]


# ---------------------------------------------------------------- PostgreSQL

def pg_bin(tool):
    found = shutil.which(tool) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))[-1:]
    if not found:
        raise SystemExit(f"{tool} not found (Debian: postgresql)")
    return found if isinstance(found, str) else found[0]


def private_postgres():
    """A scratch cluster on 127.0.0.1:PG_PORT owned by `postgres`, removed at clean-up."""
    if listening(PG_PORT):
        raise SystemExit(f"something already listens on 127.0.0.1:{PG_PORT}; set BENCH_PG_PORT")
    as_postgres = []
    pgdir = tempfile.mkdtemp(prefix="bench-compare-pg.")
    CLEANUP.add("the private PostgreSQL's directory", lambda: shutil.rmtree(pgdir, ignore_errors=True))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(pgdir, user.pw_uid, user.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, logfile = os.path.join(pgdir, "data"), os.path.join(pgdir, "postgres.log")
    subprocess.run(as_postgres + [pg_bin("initdb"), "-A", "trust", "-U", "postgres", "-D", data],
                   check=True, stdout=subprocess.DEVNULL)
    ctl = as_postgres + [pg_bin("pg_ctl"), "-D", data]

    def stop():
        subprocess.run(ctl + ["-m", "fast", "-w", "stop"], stdout=subprocess.DEVNULL)
        shutil.copy(logfile, os.path.join(OUT, "postgres-backstage.log"))

    CLEANUP.add("the private PostgreSQL", stop)
    subprocess.run(ctl + ["-l", logfile, "-w", "-o",
                          f"-p {PG_PORT} -k {pgdir} -c listen_addresses=127.0.0.1", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    log(f"private PostgreSQL on 127.0.0.1:{PG_PORT} ({pgdir})")


def psql(url, sql):
    subprocess.run([pg_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def scratch_database():
    """A database on the main server, as the tests' ScratchDb makes them; dropped at clean-up."""
    name = f"bench_compare_{os.getpid()}_{int(time.time())}"
    psql(ADMIN_URL, f"CREATE DATABASE {name}")
    CLEANUP.add(f"database {name}", lambda: psql(ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


# ---------------------------------------------------------------- the two servers

def start_backstage(catalog_file):
    modules = os.path.join(HERE, "node_modules")
    stamp = os.path.join(modules, ".package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(os.path.join(HERE, "package-lock.json")):
        log("npm ci in bench/backstage (Backstage's pinned packages, about 330 MB)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
    private_postgres()
    port, token = free_port(), secrets.token_hex(24)
    with open(os.path.join(HERE, "app-config.template.yaml")) as f:
        config = f.read()
    for key, value in {"PORT": port, "PG_PORT": PG_PORT, "TOKEN": token,
                       "PROCESSING_MINUTES": PROCESSING_MINUTES, "CATALOG_FILE": catalog_file}.items():
        config = config.replace(f"@{key}@", str(value))
    rendered = os.path.join(OUT, "app-config.yaml")
    with open(rendered, "w") as f:
        f.write(config)
    env = dict(os.environ, NODE_ENV="production", LOG_LEVEL="warn")
    wait_quiet("Backstage's ingestion")
    log(f"starting Backstage on 127.0.0.1:{port}; ingestion of {COMPONENTS} Components")
    started = time.monotonic()
    proc = spawn("backstage", ["node", "backend.js", "--config", rendered], env, HERE)
    side = Side("Backstage", port, {"Authorization": f"Bearer {token}"}, proc)
    ready_at = None
    last_count, last_report = -1, 0.0
    while True:
        alive(proc, "backstage")
        elapsed = time.monotonic() - started
        if elapsed > INGEST_TIMEOUT:
            raise SystemExit(f"Backstage ingested {last_count} of {COMPONENTS} in {INGEST_TIMEOUT:.0f} s")
        try:
            if ready_at is None:
                if request(port, "/.backstage/health/v1/readiness")[0] == 200:
                    ready_at = elapsed
                    log(f"Backstage ready after {ready_at:.1f} s")
            else:
                facets = side.json("/api/catalog/entity-facets?facet=kind")["facets"]["kind"]
                last_count = next((f["count"] for f in facets if f["value"] == "Component"), 0)
                if last_count >= COMPONENTS:
                    break
                if elapsed - last_report > 30:
                    log(f"Backstage: {last_count} of {COMPONENTS} Components after {elapsed:.0f} s")
                    last_report = elapsed
        except (ConnectionError, OSError):
            pass
        time.sleep(2 if ready_at is not None else 0.5)
    side.ingest = time.monotonic() - started
    side.ready = ready_at
    log(f"Backstage: {last_count} Components after {side.ingest:.1f} s")
    if last_count != COMPONENTS:
        raise SystemExit(f"Backstage holds {last_count} Components, not {COMPONENTS}")
    return side


def ensure_console():
    if not os.access(CONSOLE_BIN, os.X_OK):
        wait_quiet("cargo build --release")
        log("building the release console (cargo build --release -p console --bin console)")
        subprocess.run(["cargo", "build", "--release", "-p", "console", "--bin", "console"], cwd=ROOT, check=True)


def start_console(name, database_url, catalog_dir):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "CONSOLE_LISTEN": f"127.0.0.1:{port}",
        "CONSOLE_DATABASE_URL": database_url,
        "CONSOLE_CATALOG_DIR": catalog_dir,
        "CONSOLE_AUTH__DEV_SIGN_IN": "true",
        "CONSOLE_LOG_LEVEL": "warn",
    }
    wait_quiet(f"the {name} import")
    log(f"starting {name} on 127.0.0.1:{port}")
    started = time.monotonic()
    proc = spawn(name, [os.path.join(OUT, "console"), "serve"], env, OUT)
    while True:
        alive(proc, name)
        if time.monotonic() - started > INGEST_TIMEOUT:
            raise SystemExit(f"{name} not ready in {INGEST_TIMEOUT:.0f} s")
        try:
            if request(port, "/readyz")[0] == 200:
                break
        except (ConnectionError, OSError):
            pass
        time.sleep(0.05)
    ingest = time.monotonic() - started
    base = f"http://127.0.0.1:{port}"
    status, body, _, headers = request(
        port, "/auth/dev", {"Origin": base, "Content-Type": "application/x-www-form-urlencoded"},
        method="POST", body=f"login={LOGIN}")
    cookies = [c.split(";")[0] for c in headers.get_all("Set-Cookie") or [] if c.startswith("console_session=")]
    if status >= 400 or not cookies:
        raise SystemExit(f"{name}: dev sign-in as {LOGIN} failed: {status} {body[:300]!r}")
    side = Side(name, port, {"Cookie": cookies[0]}, proc)
    total = side.json("/api/v1/services")["total"]
    if total != COMPONENTS:
        raise SystemExit(f"{name} holds {total} services, not {COMPONENTS}: see {OUT}/{name}.log")
    side.ingest = ingest
    log(f"{name}: {total} services, ready after {ingest:.2f} s")
    return side


# ---------------------------------------------------------------- the shapes

SHOWN = {}  # how a Backstage request is shown in the result when its path is no help (a cursor)


def shapes(backstage):
    """[(label, Backstage path, console path)]; the floor first."""
    q = urllib.parse.quote
    exact = gen_catalog.exact_name(COMPONENTS)

    def by_query(term):
        return (f"/api/catalog/entities/by-query?limit={PAGE}&fullTextFilterTerm={q(term)}"
                "&fullTextFilterFields=metadata.name&orderField=metadata.name,asc")

    filtered = f"/api/catalog/entities/by-query?limit={PAGE}&filter=kind=component,spec.lifecycle=production&orderField=metadata.name,asc"
    page3 = filtered
    for _ in range(2):  # follow the cursor to page 3; that request is what is timed
        cursor = backstage.json(page3)["pageInfo"]["nextCursor"]
        page3 = f"/api/catalog/entities/by-query?limit={PAGE}&cursor={q(cursor)}"
    SHOWN["page 3 of lifecycle=production"] = f"`{filtered}`, then `?limit={PAGE}&cursor=` its pageInfo.nextCursor, twice"
    return [
        ("floor (trivial endpoint)", "/.backstage/health/v1/readiness", "/healthz"),
        ('full-text "billing", first page', by_query("billing"), "/api/v1/services?q=billing"),
        (f"exact name `{exact}`", by_query(exact), f"/api/v1/services?q={q(exact)}"),
        ("page 3 of lifecycle=production", page3, "/api/v1/services?lifecycle=production&page=3"),
    ]


def matches(backstage, console, shape_list):
    """What each side answers per shape (count of matches, names on the page), for the record."""
    notes = []
    for label, b_path, c_path in shape_list[1:]:
        b = backstage.json(b_path)
        c = console.json(c_path)
        b_names = [e["metadata"]["name"] for e in b["items"]]
        c_names = [s["name"] for s in c["services"]]
        same = "same names" if sorted(b_names) == sorted(c_names) else "different names (sort order)"
        notes.append(f"- {label}: Backstage {len(b_names)} items of {b.get('totalItems', '?')}, "
                     f"console {len(c_names)} of {c['total']}: {same}")
    return notes


# ---------------------------------------------------------------- the table

def ms(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def ratio(a, b):
    return f"{a / b:.1f}×" if b > 0 and a > 0 else "n/a"


def table(shape_list, bs, lite, pg, bside, lside, pside, notes, info):
    lines = [
        f"Catalog: {COMPONENTS:,} Components in {GROUPS} Groups ({GROUPS * gen_catalog.MEMBERS:,} Users), "
        "one set of descriptor files for both sides.",
        info,
        f"Client: Python http.client, a fresh TCP connection per request, full body read, {RUNS} runs "
        f"per shape after {WARMUP} warm-up; Backstage and the SQLite console alternating, the "
        "PostgreSQL console measured afterwards alone. Floor: the same client's p50 for Backstage's "
        "`/.backstage/health/v1/readiness` and the console's `/healthz` signed in (dev sign-in, "
        f"`{LOGIN}`). Above floor = figure − that side's floor p50. Ratio = Backstage above floor / "
        "console above floor (p50, p99).",
        "",
        "| request | Backstage p50 / p99 | above floor | console SQLite p50 / p99 | above floor | ratio | "
        "console PostgreSQL p50 / p99 | above floor | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    floors = (bs[0]["p50"], lite[0]["p50"], pg[0]["p50"])
    for k, (label, _, _) in enumerate(shape_list):
        b, l, p = bs[k], lite[k], pg[k]
        if k == 0:
            lines.append(f"| {label} | {ms(b['p50'])} / {ms(b['p99'])} ms | | {ms(l['p50'])} / {ms(l['p99'])} ms | | | "
                         f"{ms(p['p50'])} / {ms(p['p99'])} ms | | |")
            continue
        above = [(x["p50"] - f, x["p99"] - f) for x, f in zip((b, l, p), floors)]
        lines.append(
            f"| {label} | {ms(b['p50'])} / {ms(b['p99'])} ms | {ms(above[0][0])} / {ms(above[0][1])} ms "
            f"| {ms(l['p50'])} / {ms(l['p99'])} ms | {ms(above[1][0])} / {ms(above[1][1])} ms "
            f"| **{ratio(above[0][0], above[1][0])}** / {ratio(above[0][1], above[1][1])} "
            f"| {ms(p['p50'])} / {ms(p['p99'])} ms | {ms(above[2][0])} / {ms(above[2][1])} ms "
            f"| **{ratio(above[0][0], above[2][0])}** / {ratio(above[0][1], above[2][1])} |")
    lines.append(
        f"| import of {COMPONENTS:,} (process start → all served) | {bside.ingest:.1f} s | | {lside.ingest:.2f} s | | "
        f"{ratio(bside.ingest, lside.ingest)} | {pside.ingest:.2f} s | | {ratio(bside.ingest, pside.ingest)} |")
    lines.append(
        f"| server RSS after the runs | {bside.rss:.0f} MB | | {lside.rss:.1f} MB | | {ratio(bside.rss, lside.rss)} "
        f"| {pside.rss:.1f} MB | | {ratio(bside.rss, pside.rss)} |")
    lines.append("")
    lines.append("Response bodies (bytes, Backstage / console SQLite / console PostgreSQL): " + "; ".join(
        f"{label} {bs[k]['bytes']:,} / {lite[k]['bytes']:,} / {pg[k]['bytes']:,}" for k, (label, _, _) in enumerate(shape_list)))
    lines.append("")
    lines.append(f"Backstage was ready (readiness 200) {bside.ready:.1f} s after its start; the rest of its import time is ingestion. "
                 f"Load average (1 min) when the measurements began: {LOAD[0]:.2f} (Backstage and SQLite), {LOAD[1]:.2f} (PostgreSQL).")
    lines.append("")
    lines.append("What each side answered:")
    lines.extend(notes)
    lines.append("")
    lines.append("Requests (Backstage with `Authorization: Bearer <static token>`; the console with the session cookie):")
    for label, b_path, c_path in shape_list:
        shown = SHOWN.get(label, f"`{b_path}`")
        lines.append(f"- {label}: {shown} | `{c_path}`")
    return "\n".join(lines) + "\n"


def describe():
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "server", "app", "migrations", ":(exclude)server/benches",
                            ":(exclude)server/tests"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    built = datetime.datetime.fromtimestamp(os.path.getmtime(CONSOLE_BIN)).strftime("%Y-%m-%d %H:%M")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    pgv = subprocess.run([pg_bin("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    return (f"Backstage: @backstage/plugin-catalog-backend 4.0.0 on backend-defaults 0.18.0, Node {node}, "
            f"{pgv} (private, 127.0.0.1:{PG_PORT}), re-processing every {PROCESSING_MINUTES} min. "
            f"Console: {os.path.relpath(CONSOLE_BIN, ROOT) if CONSOLE_BIN.startswith(ROOT) else CONSOLE_BIN} built {built} (the tree now at {commit}"
            f"{', with uncommitted changes to the binary' + chr(39) + 's sources' if dirty else ''}); "
            f"{os.cpu_count()} CPUs; run of {datetime.date.today()}.")


def main():
    os.makedirs(OUT, exist_ok=True)
    catalog = os.path.join(OUT, "catalog")
    shutil.rmtree(catalog, ignore_errors=True)
    catalog_file = gen_catalog.write(catalog, COMPONENTS, GROUPS)
    log(f"catalog: {COMPONENTS} Components in {GROUPS} Groups under {catalog}")
    if shutil.which("node") is None:
        raise SystemExit("node not found (Debian: nodejs)")
    ensure_console()
    # Both consoles run this copy: a build during the run cannot swap the binary between them.
    shutil.copy2(CONSOLE_BIN, os.path.join(OUT, "console"))

    backstage = start_backstage(catalog_file)
    lite_dir = tempfile.mkdtemp(prefix="bench-compare-sqlite.")
    CLEANUP.add("the SQLite store", lambda: shutil.rmtree(lite_dir, ignore_errors=True))
    lite = start_console("console-sqlite", f"sqlite://{lite_dir}/store.db?mode=rwc", catalog)
    shape_list = shapes(backstage)
    notes = matches(backstage, lite, shape_list)
    for note in notes:
        log(note[2:])
    wait_quiet("the measurements")
    LOAD.append(os.getloadavg()[0])
    bs, ls = [], []
    for label, b_path, c_path in shape_list:
        b, l = measure([(backstage, b_path), (lite, c_path)])
        bs.append(b)
        ls.append(l)
        log(f"{label}: Backstage p50 {b['p50']:.2f} ms, console (SQLite) p50 {l['p50']:.2f} ms")
    backstage.rss = rss_mb(backstage.proc.pid)
    lite.rss = rss_mb(lite.proc.pid)
    lite.proc.stop()

    pg_url = scratch_database()
    pgside = start_console("console-postgres", pg_url, catalog)
    wait_quiet("the measurements (PostgreSQL)")
    LOAD.append(os.getloadavg()[0])
    ps = []
    for label, _, c_path in shape_list:
        (p,) = measure([(pgside, c_path)])
        ps.append(p)
        log(f"{label}: console (PostgreSQL) p50 {p['p50']:.2f} ms")
    pgside.rss = rss_mb(pgside.proc.pid)
    pgside.proc.stop()

    result = "## Backstage's catalog backend and the console, side by side (`make bench-compare`)\n\n" + \
        table(shape_list, bs, ls, ps, backstage, lite, pgside, notes, describe())
    with open(os.path.join(OUT, "result.md"), "w") as f:
        f.write(result)
    print()
    print(result)
    log(f"written to {os.path.relpath(os.path.join(OUT, 'result.md'), ROOT)}")


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        main()
    finally:
        CLEANUP.run()
