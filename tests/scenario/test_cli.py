"""The command line: --version, --help, usage errors (exit 2), and --check: one line per accept on
stdout for valid configs (every file under the shared configs/), `FILE:LINE:COLUMN: error:` and
exit 1 for broken ones, warnings as `FILE:LINE:COLUMN: warning:`. --check binds nothing.
Address (only written into configs and held by the test itself): 127.0.19.1."""

import re
import socket
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import gateway_xml, require_shared, run_postern, service_xml, shared_dir

HOST = "127.0.19.1"
# The bind part is host:port for a listening accept; a reverse (socks) accept binds nothing and
# postern may describe it in words there.
CHECK_LINE = re.compile(r"^(?P<name>.+): (?P<accept>\S+) -> (?P<bind>.+) -> (?P<type>\S+) -> "
                        r"(?P<connects>\S+)$")
DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


# ---- what --check must print, worked out from the XML independently of postern ---------------

def _local(tag):
    return tag.split("}")[-1]


def _child_texts(element, name):
    return [(c.text or "").strip() for c in element if _local(c.tag) == name]


def _resolve(text, properties):
    def substitute(match):
        if match.group(0).startswith("$$"):
            return match.group(0)[1:]
        return properties[match.group(1)]
    return re.sub(r"\$?\$\{([^}]*)\}", substitute, text)


def _is_ip(host):
    try:
        socket.inet_pton(socket.AF_INET, host)
        return True
    except OSError:
        return False


def _config_root(path, defines):
    """The config's root element and its properties, with defines over them."""
    # Comments go before parsing: seed-literal/dmz-member.xml has "--" inside one, which XML
    # forbids and Python's expat refuses; postern must still load that file (its README says so).
    text = re.sub(r"<!--.*?-->", "", Path(path).read_text(), flags=re.S)
    root = ET.fromstring(text)
    properties = {}
    for section in root:
        if _local(section.tag) == "properties":
            for prop in section:
                properties[_child_texts(prop, "name")[0]] = _child_texts(prop, "value")[0]
    properties.update(defines)
    return root, properties


def expected_cluster_start(path, defines):
    """How --check's cluster line must start ("cluster 'NAME': member M -> CONNECTS, "), or None
    without <cluster>. The seed's slip (a bare address in <accept>) takes the member from <name>."""
    root, properties = _config_root(path, defines)
    for section in root:
        if _local(section.tag) == "cluster":
            name = _resolve(_child_texts(section, "name")[0], properties)
            accepts = [_resolve(t, properties) for t in _child_texts(section, "accept")]
            member = ",".join(a if "://" in a else name for a in accepts)
            connects = ",".join(_resolve(t, properties) for t in _child_texts(section, "connect"))
            return f"cluster '{name}': member {member} -> {connects}, "
    return None


def expected_check_lines(path, defines):
    """[(name, accept, bind or None when it cannot be known here, type, connects)]"""
    root, properties = _config_root(path, defines)
    expected = []
    for service in root:
        if _local(service.tag) != "service":
            continue
        def texts(name, element=service):
            return [_resolve(t, properties) for t in _child_texts(element, name)]
        options = [c for c in service if _local(c.tag) == "accept-options"]
        tcp_bind = texts("tcp.bind", options[0]) if options else []
        transport = (texts("http.transport", options[0]) + texts("tcp.transport", options[0])
                     if options else [])
        connects = ",".join(texts("connect")) or "-"
        for accept in texts("accept"):
            scheme, rest = accept.split("://", 1)
            hostport = rest.split("/", 1)[0]
            host, _, port = hostport.rpartition(":")
            if not host:
                host, port = hostport, str(DEFAULT_PORTS.get(scheme, 0))
            if tcp_bind:
                bind = tcp_bind[0]
            elif not transport and _is_ip(host):
                bind = f"{host}:{port}"
            else:
                bind = None
            expected.append((texts("name")[0], accept, bind, texts("type")[0], connects))
    return expected


def assert_check_lists(test, path, stdout, defines):
    """Every accept of every service has its line, a config with <cluster> has its cluster line
    (timings included), and nothing else is printed."""
    expected = expected_check_lines(path, defines)
    lines = [line for line in stdout.splitlines() if not line.startswith("cluster '")]
    cluster_lines = [line for line in stdout.splitlines() if line.startswith("cluster '")]
    start = expected_cluster_start(path, defines)
    if start is None:
        test.assertEqual(cluster_lines, [], f"stdout:\n{stdout}")
    else:
        test.assertEqual(len(cluster_lines), 1, f"one cluster line expected; stdout:\n{stdout}")
        test.assertTrue(cluster_lines[0].startswith(start), f"{cluster_lines[0]!r} should start {start!r}")
        test.assertRegex(cluster_lines[0], r", heartbeat \d+ ms, suspect after \d+ ms, failed after \d+ ms$")
    test.assertEqual(len(lines), len(expected), f"stdout:\n{stdout}")
    parsed = []
    for line in lines:
        match = CHECK_LINE.match(line)
        test.assertIsNotNone(match, f"not `name: accept -> bind -> type -> connects`: {line!r}")
        parsed.append(match.groupdict())
    for name, accept, bind, type_, connects in expected:
        found = [p for p in parsed if (p["name"], p["accept"], p["type"], p["connects"]) ==
                 (name, accept, type_, connects)]
        test.assertEqual(len(found), 1,
                         f"one line for {name}: {accept} -> ... -> {type_} -> {connects}\n"
                         f"stdout:\n{stdout}")
        if bind is not None:
            test.assertEqual(found[0]["bind"], bind, f"bind address of {name} {accept}")


class CommandLine(unittest.TestCase):

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="postern-cli-"))

    def tearDown(self):
        for path in self.tmp.iterdir():
            path.unlink()
        self.tmp.rmdir()

    def write(self, name, text):
        path = self.tmp / name
        path.write_text(text)
        return path

    # ---- flags ----

    def test_version_prints_postern_and_a_version(self):
        result = run_postern(["--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^postern \S+\n$")

    def test_help_exits_0_and_describes_the_flags(self):
        result = run_postern(["--help"])
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout + result.stderr
        for flag in ("-c", "-D", "--check", "--version"):
            self.assertIn(flag, text)

    def test_missing_config_flag_prints_usage_and_exits_2(self):
        result = run_postern([])
        self.assertEqual(result.returncode, 2)
        self.assertIn("-c", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_unknown_flag_prints_usage_and_exits_2(self):
        path = self.write("ok.xml", gateway_xml(service_xml("e", f"ws://{HOST}:8000/e")))
        result = run_postern(["-c", str(path), "--frobnicate"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("-c", result.stderr)

    # ---- --check on valid configs ----

    def test_check_prints_one_line_per_accept(self):
        path = self.write("ok.xml", gateway_xml(
            service_xml("WebSocket echo", [f"ws://{HOST}:8000/echo", f"ws://{HOST}:8002/echo"]),
            service_xml("TCP echo", f"tcp://{HOST}:8001", allow_origin=None),
            service_xml("Named echo", "ws://named.example:8000/echo",
                        accept_options={"tcp.bind": f"{HOST}:8003"}),
            service_xml("Proxy", f"ws://{HOST}:8000/proxy", type_="proxy",
                        connects=["tcp://127.0.19.2:9000"])))
        result = run_postern(["--check", "-c", str(path)])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(result.stdout.splitlines()), sorted([
            f"WebSocket echo: ws://{HOST}:8000/echo -> {HOST}:8000 -> echo -> -",
            f"WebSocket echo: ws://{HOST}:8002/echo -> {HOST}:8002 -> echo -> -",
            f"TCP echo: tcp://{HOST}:8001 -> {HOST}:8001 -> echo -> -",
            f"Named echo: ws://named.example:8000/echo -> {HOST}:8003 -> echo -> -",
            f"Proxy: ws://{HOST}:8000/proxy -> {HOST}:8000 -> proxy -> tcp://127.0.19.2:9000",
        ]))
        self.assertNotIn("error:", result.stderr)
        self.assertNotIn("warning:", result.stderr)

    def test_check_applies_defines_over_file_properties(self):
        path = self.write("props.xml", gateway_xml(
            service_xml("Echo", "ws://${host}:${port}/echo"),
            properties={"host": HOST, "port": "8000"}))
        result = run_postern(["--check", "-c", str(path), "-D", "port=8100"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"Echo: ws://{HOST}:8100/echo -> {HOST}:8100 -> echo -> -\n")

    def test_check_binds_no_socket(self):
        path = self.write("ok.xml", gateway_xml(service_xml("Echo", f"ws://{HOST}:8000/echo")))
        with socket.socket() as holder:   # the port is taken: binding it would fail
            holder.bind((HOST, 8000))
            holder.listen()
            result = run_postern(["--check", "-c", str(path)])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 1)

    # ---- broken configs ----

    def assert_config_error(self, text, line, words, run_too=False):
        """--check exits 1 with `FILE:LINE:COLUMN: error: ...` naming one of words."""
        path = self.write("broken.xml", text)
        commands = [["--check", "-c", str(path)]] + ([["-c", str(path)]] if run_too else [])
        for args in commands:
            result = run_postern(args, timeout=15)
            self.assertEqual(result.returncode, 1, f"{args}: stderr {result.stderr!r}")
            self.assertEqual(result.stdout, "", "no service is listed for a broken config")
            errors = [l for l in result.stderr.splitlines() if ": error: " in l]
            self.assertTrue(errors, f"no `FILE:LINE:COLUMN: error:` line in {result.stderr!r}")
            match = re.match(re.escape(str(path)) + r":(\d+):(\d+): error: (.+)$", errors[0])
            self.assertIsNotNone(match, f"not `{path}:LINE:COLUMN: error: message`: {errors[0]!r}")
            self.assertEqual(int(match.group(1)), line, f"line number in {errors[0]!r}")
            self.assertGreaterEqual(int(match.group(2)), 1)
            self.assertTrue(any(w.lower() in match.group(3).lower() for w in words),
                            f"the message names none of {words}: {errors[0]!r}")

    def test_unknown_element_is_an_error_at_its_line(self):
        self.assert_config_error(
            '<?xml version="1.0" encoding="UTF-8"?>\n'                       # 1
            '<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">\n'
            "  <service>\n"
            "    <name>Echo</name>\n"
            f"    <accept>ws://{HOST}:8000/echo</accept>\n"                   # 5
            "    <type>echo</type>\n"
            "    <frobnicate>yes</frobnicate>\n"                             # 7
            "  </service>\n"
            "</gateway-config>\n", 7, ["frobnicate"], run_too=True)

    def test_unresolved_property_is_an_error_at_its_line(self):
        self.assert_config_error(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">\n'
            "  <service>\n"
            "    <name>Echo</name>\n"
            "    <type>echo</type>\n"                                        # 5
            "    <accept>ws://${no.such.property}:8000/echo</accept>\n"      # 6
            "  </service>\n"
            "</gateway-config>\n", 6, ["no.such.property"], run_too=True)

    def test_bad_duration_is_an_error_at_its_line(self):
        self.assert_config_error(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">\n'
            "  <service>\n"
            "    <name>Echo</name>\n"
            f"    <accept>ws://{HOST}:8000/echo</accept>\n"
            "    <type>echo</type>\n"
            "    <accept-options>\n"
            "      <ws.inactivity.timeout>2 fortnights</ws.inactivity.timeout>\n"   # 8
            "    </accept-options>\n"
            "  </service>\n"
            "</gateway-config>\n", 8, ["ws.inactivity.timeout", "fortnights", "duration"])

    def test_doctype_is_an_error_at_its_line(self):
        self.assert_config_error(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE gateway-config [ <!ENTITY boom "boom"> ]>\n'                # 2
            '<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">\n'
            "  <service>\n"
            "    <name>&boom;</name>\n"
            f"    <accept>ws://{HOST}:8000/echo</accept>\n"
            "    <type>echo</type>\n"
            "  </service>\n"
            "</gateway-config>\n", 2, ["DOCTYPE", "DTD"])


class SharedConfigs(unittest.TestCase):
    """`postern --check` on every *.xml under <shared>/configs."""

    DEFINES = {"pki.dir": "/nonexistent-pki"}

    def config_files(self):
        base = require_shared(self, "configs")
        files = sorted(base.rglob("*.xml"))
        self.assertTrue(files, f"no *.xml under {base}")
        return files

    def check(self, path):
        args = ["--check", "-c", str(path)]
        for k, v in self.DEFINES.items():
            args += ["-D", f"{k}={v}"]
        return run_postern(args)

    def test_every_shared_config_passes_check_and_lists_its_services(self):
        for path in self.config_files():
            with self.subTest(config=str(path.relative_to(shared_dir()))):
                result = self.check(path)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertNotIn(": error: ", result.stderr)
                assert_check_lists(self, path, result.stdout, self.DEFINES)

    def test_seed_literal_member_warns_about_cluster_name(self):
        path = require_shared(self, "configs", "seed-literal", "dmz-member.xml")
        result = self.check(path)
        self.assertEqual(result.returncode, 0, result.stderr)
        warnings = [l for l in result.stderr.splitlines() if "warning:" in l]
        self.assertTrue(warnings, f"no warning on stderr: {result.stderr!r}")
        lines = path.read_text().splitlines()
        cluster_lines = {i + 1 for i, l in enumerate(lines) if "<cluster>" in l or
                         ("<name>tcp://" in l)}
        found = [w for w in warnings if "<cluster><name>" in w]
        self.assertEqual(len(found), 1, f"one warning mentioning <cluster><name>: {warnings}")
        match = re.match(re.escape(str(path)) + r":(\d+):(\d+): warning: ", found[0])
        self.assertIsNotNone(match, f"not `FILE:LINE:COLUMN: warning:`: {found[0]!r}")
        self.assertIn(int(match.group(1)), cluster_lines, "the warning points at <cluster>")


if __name__ == "__main__":
    unittest.main()
