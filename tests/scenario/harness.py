"""Process harness for the scenario tests: runs the real postern binary with a real config.

Contract:
- The binary is $POSTERN_BIN, default <repo>/build/postern. $POSTERN_BACKEND and the rest of
  the environment are passed through unchanged.
- start() writes the config to a fresh temp dir (or uses a given file), runs
  `postern -c FILE [-D name=value]...` with stderr captured to <tmp>/gateway.log and waits until
  the log shows a line containing `postern ready` (10 s). On timeout or early exit it kills the
  process and fails the test with the log.
- stop() signals the PID it started, and only that PID: SIGTERM, then SIGKILL after 10 s.
- GatewayTestCase starts one gateway per test (or, with `shared_gateway = True`, one per class),
  always stops it, and fails the test when the gateway died during it, exited non-zero after
  SIGTERM, or wrote a sanitizer report. The log written during each test is kept on the test
  (`gateway_log_excerpt`) so that run.py shows it when the test fails.
- Gateway.wait_for_log() waits (bounded) for a log line; Gateway.rss_bytes() reads the
  process's VmRSS. service_xml/gateway_xml/security_xml write configs with properties,
  connect-options and <security>. require_test_pki() gives the test PKI directory
  (scripts/make-test-pki.sh into build/test-pki once per run, or $POSTERN_TEST_PKI).
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
XMLNS = "http://xmlns.kaazing.org/2016/06/gateway"

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def postern_bin():
    return Path(os.environ.get("POSTERN_BIN", REPO / "build" / "postern"))


def shared_dir():
    """The shared folder (configs, hooks), or None when it is missing."""
    path = Path(os.environ.get("POSTERN_SHARED_DIR") or REPO.parent / "shared")
    return path if path.is_dir() else None


def require_shared(test, *parts):
    """Path under the shared folder; skips the test with a reason when it is missing."""
    base = shared_dir()
    if base is None:
        test.skipTest("shared folder missing (set POSTERN_SHARED_DIR)")
    path = base.joinpath(*parts)
    if not path.exists():
        test.skipTest(f"{path} missing")
    return path


def run_postern(args, timeout=30):
    """Runs postern to completion (for --check, --version, ...): CompletedProcess with text."""
    return subprocess.run([str(postern_bin()), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ---- config text -----------------------------------------------------------------------------

def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def service_xml(name, accepts, type_="echo", connects=(), accept_options=None,
                allow_origin="*", connect_options=None, properties=None):
    """One <service>. accepts/connects: URIs (a str is one URI); accept_options,
    connect_options and properties: {element: text} (service <properties> are elements named
    after the property, e.g. {"maximum.recovery.interval": "1 second"}); allow_origin: text of
    <allow-origin>, or None for no cross-site-constraint."""
    if isinstance(accepts, str):
        accepts = [accepts]
    if isinstance(connects, str):
        connects = [connects]
    lines = ["  <service>", f"    <name>{xml_escape(name)}</name>"]
    lines += [f"    <accept>{xml_escape(a)}</accept>" for a in accepts]
    lines += [f"    <connect>{xml_escape(c)}</connect>" for c in connects]
    lines.append(f"    <type>{type_}</type>")
    for block, items in (("properties", properties), ("accept-options", accept_options),
                         ("connect-options", connect_options)):
        if items:
            lines.append(f"    <{block}>")
            lines += [f"      <{k}>{xml_escape(str(v))}</{k}>" for k, v in items.items()]
            lines.append(f"    </{block}>")
    if allow_origin is not None:
        lines += ["    <cross-site-constraint>",
                  f"      <allow-origin>{xml_escape(allow_origin)}</allow-origin>",
                  "    </cross-site-constraint>"]
    lines.append("  </service>")
    return "\n".join(lines)


def security_xml(keystore=None, truststore=None):
    """The <security> element: keystore is the PEM file with the certificate chain and key the
    gateway presents, truststore the PEM file of the CA certificates it trusts."""
    lines = ["  <security>"]
    for element, path in (("keystore", keystore), ("truststore", truststore)):
        if path is not None:
            lines += [f"    <{element}>", "      <type>PEM</type>",
                      f"      <file>{xml_escape(str(path))}</file>", f"    </{element}>"]
    lines.append("  </security>")
    return "\n".join(lines)


def gateway_xml(*services, properties=None, security=None):
    """A whole gateway-config document; properties: {name: value}; security: the text of
    security_xml(...)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<gateway-config xmlns="{XMLNS}">']
    if properties:
        lines.append("  <properties>")
        for k, v in properties.items():
            lines += ["    <property>", f"      <name>{k}</name>",
                      f"      <value>{xml_escape(str(v))}</value>", "    </property>"]
        lines.append("  </properties>")
    if security:
        lines.append(security)
    lines += list(services)
    lines.append("</gateway-config>")
    return "\n".join(lines) + "\n"


# ---- the process -----------------------------------------------------------------------------

class Gateway:
    """One postern process. Use start()/stop(); stop() is idempotent."""

    def __init__(self, config_text=None, config_path=None, defines=None, extra_args=()):
        assert (config_text is None) != (config_path is None), "give config_text or config_path"
        self.tmp = Path(tempfile.mkdtemp(prefix="postern-scenario-"))
        if config_text is not None:
            self.config_path = self.tmp / "gateway-config.xml"
            self.config_path.write_text(config_text)
        else:
            self.config_path = Path(config_path)
        self.defines = dict(defines or {})
        self.extra_args = list(extra_args)
        self.log_path = self.tmp / "gateway.log"
        self.out_path = self.tmp / "gateway.out"
        self.proc = None
        self.exit_status = None      # after stop() or wait_exit()
        self.killed = False          # SIGKILL was needed
        self.signalled = False       # this harness or the test sent it a signal

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def command(self):
        cmd = [str(postern_bin()), "-c", str(self.config_path)]
        for k, v in self.defines.items():
            cmd += ["-D", f"{k}={v}"]
        return cmd + self.extra_args

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def start(self):
        binary = postern_bin()
        if not binary.is_file():
            raise AssertionError(f"postern binary not found: {binary} (build it with make, "
                                 "or set POSTERN_BIN)")
        self.spawn()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if "postern ready" in self.log_text():
                return self
            if self.proc.poll() is not None:
                status = self.proc.returncode
                self.exit_status = status
                raise AssertionError(f"postern exited with status {status} before it was ready\n"
                                     f"command: {' '.join(self.command())}\n{self.describe_log()}")
            time.sleep(0.01)
        self.stop()
        raise AssertionError(f"postern did not log 'postern ready' within {READY_TIMEOUT_S:.0f} s\n"
                             f"command: {' '.join(self.command())}\n{self.describe_log()}")

    def spawn(self):
        """Starts the process (standard output to out_path, the log to log_path); start() then
        waits for it to be ready. A subclass may start it differently."""
        with open(self.log_path, "wb") as log, open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=log,
                                         stdin=subprocess.DEVNULL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum):
        if self.alive():
            self.signalled = True
            os.kill(self.proc.pid, signum)

    def wait_exit(self, timeout):
        """Exit status, or None when the process is still running after timeout seconds."""
        try:
            self.exit_status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_status

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; returns the exit status (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signalled = True
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.exit_status = self.proc.returncode
        return self.exit_status

    def rss_bytes(self):
        """The process's resident set size now (VmRSS of /proc/<pid>/status), in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS in /proc/{self.proc.pid}/status")

    def address_sanitized(self):
        """True when the process runs with AddressSanitizer (libasan mapped): its RSS then holds
        ASan's quarantine of freed memory, so small RSS bounds say nothing about postern."""
        with open(f"/proc/{self.proc.pid}/maps") as maps:
            return any("libasan" in line for line in maps)

    def wait_for_log(self, pattern, timeout, start=0):
        """The first log line at or after byte offset start that matches pattern (a compiled
        regex, or a str that must occur in the line), waiting up to timeout seconds for it to be
        written; None when no line matches by then. Only whole lines are considered."""
        match = pattern.search if isinstance(pattern, re.Pattern) else (lambda line: pattern in line)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[start:]
            for line in text[:text.rfind("\n") + 1].splitlines():
                if match(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def sanitizer_report(self, text=None):
        text = self.log_text() if text is None else text
        return any(marker in text for marker in SANITIZER_MARKERS)

    def describe_log(self, start=0):
        text = self.log_text()[start:]
        if len(text) > 20000:
            text = "[... " + str(len(text) - 20000) + " bytes cut ...]\n" + text[-20000:]
        return f"---- gateway log ({self.log_path}) ----\n{text}---- end of gateway log ----"

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- test PKI and limits ---------------------------------------------------------------------

PKI_FILES = ("ca.pem", "foreign-ca.pem", "server.pem", "other-server.pem", "wrong-host.pem",
             "client.pem", "foreign-client.pem", "foreign-server.pem", "dmz1.pem", "dmz2.pem",
             "internal1.pem", "internal2.pem")
_pki = {}   # "dir" -> Path once made in this run, or "error" -> why it could not be made


def require_test_pki():
    """The test PKI directory (ca.pem, server.pem, client.pem, ... as scripts/make-test-pki.sh
    makes them). $POSTERN_TEST_PKI names a directory to use as it is; otherwise the script runs
    once per run on build/test-pki (it keeps a set that is complete and current, and serialises
    concurrent runs). Raises unittest.SkipTest (in a test or a class fixture: skipped) when the
    script is missing, AssertionError when it fails."""
    if "dir" in _pki:
        return _pki["dir"]
    if "error" in _pki:
        raise AssertionError(_pki["error"])
    given = os.environ.get("POSTERN_TEST_PKI")
    if given:
        directory = Path(given)
    else:
        script = REPO / "scripts" / "make-test-pki.sh"
        if not script.is_file():
            raise unittest.SkipTest(f"{script} missing: no test PKI")
        directory = REPO / "build" / "test-pki"
        made = subprocess.run([str(script), str(directory)], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        if made.returncode != 0:
            _pki["error"] = (f"{script} {directory} failed with status {made.returncode}\n"
                             f"{made.stdout}{made.stderr}")
            raise AssertionError(_pki["error"])
    missing = [n for n in PKI_FILES if not (directory / n).is_file()]
    if missing:
        _pki["error"] = f"the test PKI in {directory} lacks {', '.join(missing)}"
        raise AssertionError(_pki["error"])
    _pki["dir"] = directory
    return directory


def raise_nofile_limit():
    """Raises this process's RLIMIT_NOFILE soft limit to the hard limit (a gateway started
    afterwards inherits it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# `<ISO-8601 UTC time with ms>Z <LEVEL> <thread: r0, r1, main> <text>`; the level may be padded.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ +(r\d+|main) \S.*$")


# ---- test cases ------------------------------------------------------------------------------

class GatewayTestCase(unittest.TestCase):
    """Base class: subclasses set `config` (XML text) or override config_file(), and may set
    `defines`. With shared_gateway = True one gateway serves every test of the class."""

    config = None
    defines = {}
    shared_gateway = False
    _class_gateway = None

    @classmethod
    def config_file(cls):
        return None

    @classmethod
    def _new_gateway(cls):
        path = cls.config_file()
        if path is not None:
            return Gateway(config_path=path, defines=cls.defines)
        return Gateway(config_text=cls.config, defines=cls.defines)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._class_gateway = None
        cls._class_start_error = None
        if cls.shared_gateway:
            gateway = cls._new_gateway()
            try:
                gateway.start()
            except AssertionError as error:
                gateway.stop()
                cls._class_start_error = str(error)
                cls._class_gateway = gateway
                return
            cls._class_gateway = gateway

    @classmethod
    def tearDownClass(cls):
        """Stops the shared gateway; fails (as a class fixture error) when it did not exit with
        status 0 after SIGTERM or wrote a sanitizer report, e.g. leaks found at exit."""
        gateway = cls._class_gateway
        cls._class_gateway = None
        if gateway is None:
            return
        was_running = gateway.alive()
        status = gateway.stop()
        text = gateway.log_text()
        gateway.cleanup()
        super().tearDownClass()
        if gateway.sanitizer_report(text):
            raise AssertionError("postern wrote a sanitizer report\n" + text[-20000:])
        if gateway.killed:
            raise AssertionError("postern did not exit within 10 s of SIGTERM and was killed\n"
                                 + text[-20000:])
        if was_running and status != 0:
            raise AssertionError(f"postern exited with status {status} after SIGTERM\n"
                                 + text[-20000:])

    def setUp(self):
        self.gateway_log_excerpt = None
        if self.shared_gateway:
            if self._class_start_error:
                self.fail(self._class_start_error)
            self.gateway = self._class_gateway
            if not self.gateway.alive():
                self.fail("the shared gateway is no longer running (an earlier test broke it)\n"
                          + self.gateway.describe_log())
            self._log_start = self.gateway.log_size()
            return
        self.gateway = self._new_gateway()
        self._log_start = 0
        try:
            self.gateway.start()
        except AssertionError:
            self.gateway.stop()
            self.gateway.cleanup()
            raise

    def tearDown(self):
        gateway = self.gateway
        text = gateway.log_text()
        if self.shared_gateway:
            self.gateway_log_excerpt = text[self._log_start:]
            if not gateway.alive():
                self.fail(f"postern died during this test (status {gateway.proc.returncode})\n"
                          + gateway.describe_log(self._log_start))
            if gateway.sanitizer_report(self.gateway_log_excerpt):
                self.fail("postern wrote a sanitizer report during this test\n"
                          + gateway.describe_log(self._log_start))
            return
        was_running = gateway.alive()
        status = gateway.stop()
        text = gateway.log_text()
        self.gateway_log_excerpt = text
        gateway.cleanup()
        if gateway.sanitizer_report(text):
            self.fail("postern wrote a sanitizer report\n" + text)
        if gateway.killed:
            self.fail("postern did not exit within 10 s of SIGTERM and was killed\n" + text)
        if not was_running and not gateway.signalled:
            self.fail(f"postern died during this test (status {status})\n" + text)
        if was_running and status != 0:
            self.fail(f"postern exited with status {status} after SIGTERM\n" + text)


def stop_gateways(gateways):
    """Stops every gateway (SIGTERM, SIGKILL after 10 s) and removes its files; returns the
    problems found, one text each with the gateway's log: a sanitizer report, no exit within
    10 s of SIGTERM, or a status other than 0 after SIGTERM. A gateway that was no longer
    running (a test killed it, or it never got ready) is not held to its exit status."""
    problems = []
    for g in gateways:
        was_running = g.alive()
        status = g.stop()
        text = g.log_text()
        if g.sanitizer_report(text):
            problems.append("sanitizer report\n" + text)
        if g.killed:
            problems.append("did not exit within 10 s of SIGTERM\n" + text)
        if was_running and status != 0:
            problems.append(f"exited with status {status} after SIGTERM\n" + text)
        g.cleanup()
    return problems


class MultiGatewayTestCase(unittest.TestCase):
    """Base class for tests that start several gateways of their own with start(config_text),
    or put a Gateway in self.gateways themselves. tearDown stops them all and fails with every
    problem stop_gateways finds, and leaves each gateway's log for run.py to show when the test
    failed; a subclass with more to release releases it around super().tearDown()."""

    def setUp(self):
        super().setUp()
        self.gateways = []

    def tearDown(self):
        # Each gateway's log (its last 6,000 characters), for run.py to show if the test fails.
        self.gateway_log_excerpt = "\n".join(f"==== gateway {i} (pid {g.pid}) ====\n{g.log_text()[-6000:]}"
                                             for i, g in enumerate(self.gateways))
        problems = stop_gateways(self.gateways)
        if problems:
            self.fail("\n".join(problems))

    def start(self, config_text):
        """A gateway started from config_text (raises AssertionError when it is not ready);
        recorded for tearDown first, so that one that fails to start is cleaned up too."""
        g = Gateway(config_text=config_text)
        self.gateways.append(g)
        g.start()
        return g
