#!/usr/bin/python3
"""RFC 6455 conformance run: `/usr/bin/python3 tests/conformance/run.py [--path P]... [CASE]...`

Starts postern (build/postern, or $POSTERN_BIN; $POSTERN_BACKEND passed through) on each path
and runs every case of cases.py against it:
  direct   the echo service, ws://127.0.70.1:8070/echo
  proxy    a ws -> ws proxy, ws://127.0.70.2:8070/echo, in front of the same gateway's echo
           on 127.0.70.2:8071 (frames forwarded as they are)
  reverse  a DMZ postern (proxy on ws://127.0.70.3:8070/echo, connect-options socks.mode
           reverse over http.transport socks://127.0.70.3:1470) and an internal postern
           (accept-options socks.mode reverse on the same transport, connecting to its own echo
           on ws://127.0.70.4:8070/echo)
--path (repeatable, or comma-separated) picks paths (default all three); CASE arguments are
case ids or id prefixes (`6.4` runs 6.4.1 ... 6.4.4). Paths run in parallel, the cases of one
path up to --jobs (default 8) at a time. Prints one line per case and path (PASS, FAIL with the reason,
XFAIL for a known failure listed in cases.KNOWN_FAILURES, XPASS when such a case passes), then
a summary; exits 1 when a case failed or a gateway died, wrote a sanitizer report or did not
exit cleanly on SIGTERM.
"""

import argparse
import concurrent.futures
import base64
import os
import re
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scenario"))

import cases  # noqa: E402
import client  # noqa: E402
from harness import Gateway, gateway_xml, postern_bin, service_xml  # noqa: E402

PATHS = ("direct", "proxy", "reverse")
BACKPLANE = "socks://127.0.70.3:1470"
LOGICAL = "ws://echo.internal.example:8070/echo"


class Endpoint:
    """The connect() callable handed to the cases (see cases.py)."""

    def __init__(self, host, port, path="/echo"):
        self.host, self.port, self.path = host, port, path
        self.host_header = f"{host}:{port}"
        self.last_key = None
        self.opened = []

    def new_key(self):
        self.last_key = base64.b64encode(os.urandom(16)).decode()
        return self.last_key

    def request_text(self, key=None, **kw):
        return client.upgrade_request(self.path, self.host_header,
                                      key if key is not None else self.new_key(), **kw)

    def raw(self):
        conn = client.Conn(self.host, self.port)
        self.opened.append(conn)
        return conn

    def request(self, **kw):
        conn = self.raw()
        key = kw.pop("key", None)
        self.last_key = key if key is not None else self.new_key()
        return conn, conn.request(self.request_text(key=self.last_key, **kw))

    def __call__(self):
        conn, resp = self.request()
        if resp.status != 101:
            raise client.CaseFailure(f"upgrade refused: {client.short(resp.raw, 300)}")
        if resp.header("Sec-WebSocket-Accept") != [client.accept_key(self.last_key)]:
            raise client.CaseFailure(f"wrong Sec-WebSocket-Accept in {client.short(resp.raw, 300)}")
        if resp.header("Sec-WebSocket-Extensions"):
            raise client.CaseFailure("an extension was accepted though none was offered")
        return conn

    def close_all(self):
        for conn in self.opened:
            conn.close()
        self.opened = []


def start_path(name):
    """Starts the gateways of a path: (endpoint, [Gateway]). Raises AssertionError with the log
    when one does not come up."""
    gateways = []
    try:
        if name == "direct":
            config = gateway_xml(service_xml("conformance echo", "ws://127.0.70.1:8070/echo"))
            gateways.append(Gateway(config_text=config).start())
            return Endpoint("127.0.70.1", 8070), gateways
        if name == "proxy":
            config = gateway_xml(
                service_xml("conformance proxy", "ws://127.0.70.2:8070/echo", type_="proxy",
                            connects="ws://127.0.70.2:8071/echo"),
                service_xml("conformance echo", "ws://127.0.70.2:8071/echo"))
            gateway = Gateway(config_text=config)
            gateways.append(gateway.start())
            wait_log(gateway, r"service 'conformance proxy': backend \S+ reachable", 10)
            return Endpoint("127.0.70.2", 8070), gateways
        transport = {"http.transport": BACKPLANE, "socks.mode": "reverse"}
        dmz = Gateway(config_text=gateway_xml(service_xml(
            "conformance dmz", "ws://127.0.70.3:8070/echo", type_="proxy", connects=LOGICAL,
            connect_options=dict(transport, **{"socks.timeout": "5 seconds"}))))
        gateways.append(dmz.start())
        internal = Gateway(config_text=gateway_xml(
            service_xml("conformance internal", LOGICAL, type_="proxy",
                        connects="ws://127.0.70.4:8070/echo",
                        accept_options=dict(transport,
                                            **{"socks.retry.maximum.interval": "1 second"}),
                        properties={"prepared.connection.count": "4"}),
            service_xml("conformance internal echo", "ws://127.0.70.4:8070/echo")))
        gateways.append(internal.start())
        wait_log(dmz, r"service 'conformance dmz': ready", 10)
        return Endpoint("127.0.70.3", 8070), gateways
    except BaseException:
        for g in gateways:
            g.stop()
        raise


def wait_log(gateway, regex, timeout):
    if gateway.wait_for_log(re.compile(regex), timeout) is None:
        raise AssertionError(f"no log line matching {regex!r} within {timeout} s\n"
                             + gateway.describe_log())


def stop_path(gateways):
    """Stops the gateways; a list of problems (died, sanitizer report, bad exit)."""
    problems = []
    for g in gateways:
        was_running = g.alive()
        status = g.stop()
        text = g.log_text()
        if not was_running:
            problems.append(f"postern ({g.config_path}) died during the run with status "
                            f"{g.exit_status}\n{text[-4000:]}")
        elif status != 0:
            problems.append(f"postern exited with status {status} after SIGTERM\n{text[-4000:]}")
        if g.sanitizer_report(text):
            problems.append("postern wrote a sanitizer report\n" + text[-20000:])
        if not problems:
            g.cleanup()
    return problems


class Report:
    def __init__(self, verbose):
        self.lock = threading.Lock()
        self.counts = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0}
        self.failures = []
        self.verbose = verbose

    def line(self, text):
        with self.lock:
            print(text, flush=True)

    def result(self, path, case, verdict, elapsed, reason=""):
        with self.lock:
            self.counts[verdict] += 1
            if verdict == "FAIL":
                self.failures.append((path, case.id, reason))
            text = f"{verdict:5} {path:7} {case.id:10} {case.title} ({elapsed:.2f} s)"
            if reason:
                text += "\n" + "\n".join("      " + l for l in reason.rstrip().split("\n"))
            print(text, flush=True)


def run_case(name, endpoint, case, report):
    """Runs one case on a fresh copy of endpoint and reports it."""
    endpoint = Endpoint(endpoint.host, endpoint.port, endpoint.path)
    known = cases.known_failure(case.id, name)
    started = time.monotonic()
    reason = ""
    try:
        case.run(endpoint)
        ok = True
    except client.CaseFailure as error:
        ok, reason = False, str(error)
    except Exception as error:   # noqa: BLE001 (a socket error is a failure too)
        ok = False
        reason = f"{type(error).__name__}: {error}\n" + "".join(traceback.format_exc(limit=3))
    finally:
        endpoint.close_all()
    elapsed = time.monotonic() - started
    if ok:
        report.result(name, case, "XPASS" if known else "PASS", elapsed,
                      f"listed as a known failure ({known}): remove it from "
                      "cases.KNOWN_FAILURES" if known else "")
    elif known:
        report.result(name, case, "XFAIL", elapsed, f"known: {known}\n{reason}")
    else:
        report.result(name, case, "FAIL", elapsed, reason)


def run_path(name, selected, report, problems, jobs):
    try:
        endpoint, gateways = start_path(name)
    except AssertionError as error:
        for case in selected:
            report.result(name, case, "FAIL", 0.0, f"the {name} path did not start")
        problems.append(f"{name}: could not start\n{error}")
        return
    try:
        # Cases are independent connections: up to `jobs` run at once on this path.
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_case, name, endpoint, case, report) for case in selected]
            for future in futures:
                future.result(timeout=300)
    finally:
        problems.extend(f"{name}: {p}" for p in stop_path(gateways))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", action="append", default=[],
                        help="direct, proxy or reverse (repeatable, or comma-separated)")
    parser.add_argument("--jobs", type=int, default=8,
                        help="cases run at once on each path (default 8; 1: one after the other)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("cases", nargs="*", help="case ids or id prefixes")
    args = parser.parse_args(argv)
    paths = [p for item in args.path for p in item.split(",") if p] or list(PATHS)
    for p in paths:
        if p not in PATHS:
            parser.error(f"unknown path {p!r} (direct, proxy, reverse)")
    selected = [c for c in cases.CASES
                if not args.cases or any(c.id == f or c.id.startswith(f + ".")
                                         for f in args.cases)]
    if args.list:
        for c in selected:
            print(f"{c.id:10} {c.title}")
        return 0
    if not selected:
        print(f"no case matches {' '.join(args.cases)}")
        return 1
    if not postern_bin().is_file():
        print(f"postern binary not found: {postern_bin()} (run `make` first, or set POSTERN_BIN)")
        return 1

    backend = os.environ.get("POSTERN_BACKEND", "(default)")
    print(f"RFC 6455 conformance: {len(selected)} cases x {', '.join(paths)} with "
          f"{postern_bin()}, POSTERN_BACKEND={backend}", flush=True)
    report = Report(verbose=True)
    problems = []
    started = time.monotonic()
    threads = [threading.Thread(target=run_path, args=(p, selected, report, problems, args.jobs),
                                name=p, daemon=True) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
        if t.is_alive():
            problems.append(f"{t.name}: still running after 600 s")
    for problem in problems:
        print("PROBLEM " + problem)
    c = report.counts
    summary = f"{c['PASS']} passed, {c['FAIL']} failed, {c['XFAIL']} known failures (XFAIL)"
    if c["XPASS"]:
        summary += f", {c['XPASS']} known failures passed (XPASS)"
    if problems:
        summary += f", {len(problems)} gateway problems"
    print(f"({time.monotonic() - started:.1f} s)")
    if report.failures:
        print("failed: " + ", ".join(f"{p}:{i}" for p, i, _ in report.failures))
    print(summary, flush=True)
    return 1 if c["FAIL"] or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
