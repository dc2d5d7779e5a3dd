"""`make install`: run once per class as `make -s install DESTDIR=<tmp> PREFIX=/usr
POSTERN=<$POSTERN_BIN>` from the repo root, with CXX=false so that any attempt to build fails it.
Checks the exact layout (binary, postern(8), example configs, systemd unit), that the installed
binary is the given one and runs, that the unit runs /usr/sbin/postern with --check before each
start and passes `systemd-analyze verify` (on a copy whose binary path points into DESTDIR; skips
saying why where systemd-analyze is missing or cannot verify even a minimal unit), that the man
page renders without warnings and names every option and environment variable of
`postern --help`, every config element, service type and accept option the binary knows, and
that the installed example configs pass `postern --check`. Binds no address."""

import filecmp
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import REPO, gateway_xml, postern_bin

PREFIX = "/usr"
CONFIG_PATH = "/etc/postern/gateway-config.xml"
HA_EXAMPLES = sorted(p.name for p in (REPO / "config" / "ha-loopback").glob("*.xml"))
# Relative to DESTDIR.
SBIN = "usr/sbin/postern"
MAN = "usr/share/man/man8/postern.8"
EXAMPLES = "usr/share/doc/postern/examples"
UNIT = "usr/lib/systemd/system/postern.service"
EXPECTED_FILES = {SBIN, MAN, UNIT, f"{EXAMPLES}/gateway-config.xml"} | {
    f"{EXAMPLES}/ha-loopback/{name}" for name in HA_EXAMPLES}
MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "CONFIGURATION",
                "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
# Directives the unit must carry with exactly these values (the hardening of the brief).
UNIT_SERVICE = {
    "Type": "simple",
    "ExecStartPre": f"{PREFIX}/sbin/postern --check -c {CONFIG_PATH}",
    "ExecStart": f"{PREFIX}/sbin/postern -c {CONFIG_PATH}",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "KillSignal": "SIGTERM",
    "TimeoutStopSec": "15",
    "Restart": "on-failure",
    "RestartSec": "1",
    "LimitNOFILE": "65536",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
    "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
    "SystemCallArchitectures": "native",
}
IO_URING_CALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register")


def run(args, env=None, cwd=None, timeout=15):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env, stdin=subprocess.DEVNULL)


def unit_directives(text):
    """{section: [(key, value)]} of a unit file, comments and blank lines left out."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def plain(text):
    """Rendered man text without overstrikes, with every hyphen and minus glyph as '-'."""
    text = re.sub(r".\x08", "", text)
    for glyph in ("\u2010", "\u2011", "\u2212"):
        text = text.replace(glyph, "-")
    return text


def man_sections(rendered):
    """{heading: body} of a rendered page; headings are the lines that start in column 0."""
    sections, current = {}, None
    for line in rendered.splitlines()[1:]:
        if re.match(r"^[A-Z][A-Z ]*[A-Z]$", line):
            current = line
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def names_word(text, word):
    """word appears in text as a word of its own (not as a part of --check for -c)."""
    return re.search(r"(?<![\w.-])" + re.escape(word) + r"(?![\w-])", text) is not None


class Install(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="postern-install-"))
        cls.destdir = cls.tmp / "root"
        cls.binary = postern_bin().resolve()
        make = shutil.which("make")
        if make is None:
            raise unittest.SkipTest("make is not installed")
        cls.make = run([make, "-s", "install", f"DESTDIR={cls.destdir}", f"PREFIX={PREFIX}",
                        f"POSTERN={cls.binary}", "CXX=false"], cwd=REPO, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.make.returncode, 0,
                         f"make install failed:\n{self.make.stdout}{self.make.stderr}")

    def installed(self, relative):
        return self.destdir / relative

    def rendered_man(self):
        """The installed page as `man -l` shows it (plain text, 100 columns)."""
        man = shutil.which("man")
        if man is None:
            self.skipTest("man is not installed")
        env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8")
        env.pop("MANPAGER", None)
        env.pop("PAGER", None)
        result = run([man, "-P", "cat", "-l", str(self.installed(MAN))], env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return plain(result.stdout)

    # ---- layout ----

    def test_installs_exactly_the_binary_man_page_examples_and_unit(self):
        found = {str(p.relative_to(self.destdir))
                 for p in self.destdir.rglob("*") if not p.is_dir()}
        self.assertEqual(found, EXPECTED_FILES)
        sbin = self.installed(SBIN)
        self.assertTrue(filecmp.cmp(sbin, self.binary, shallow=False),
                        "the installed binary is the given one")
        self.assertEqual(stat.S_IMODE(sbin.stat().st_mode), 0o755)
        for relative in EXPECTED_FILES - {SBIN}:
            self.assertEqual(stat.S_IMODE(self.installed(relative).stat().st_mode), 0o644, relative)
        self.assertTrue(filecmp.cmp(self.installed(MAN), REPO / "docs" / "postern.8",
                                    shallow=False))
        self.assertTrue(filecmp.cmp(self.installed(f"{EXAMPLES}/gateway-config.xml"),
                                    REPO / "config" / "echo.xml", shallow=False))
        for name in HA_EXAMPLES:
            source = REPO / "config" / "ha-loopback" / name
            self.assertTrue(filecmp.cmp(self.installed(f"{EXAMPLES}/ha-loopback/{name}"), source,
                                        shallow=False), name)

    def test_installed_binary_prints_its_version(self):
        result = run([str(self.installed(SBIN)), "--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^postern \d+\.\d+\.\d+\n$")
        self.assertEqual(result.stdout, run([str(self.binary), "--version"]).stdout)

    def test_installed_example_configs_pass_check(self):
        example = self.installed(f"{EXAMPLES}/gateway-config.xml")
        result = run([str(self.installed(SBIN)), "--check", "-c", str(example)], cwd=self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(result.stdout.splitlines()), [
            "TCP echo: tcp://localhost:8001 -> localhost:8001 -> echo -> -",
            "WebSocket echo: ws://localhost:8000/echo -> localhost:8000 -> echo -> -",
        ])
        for name in HA_EXAMPLES:
            path = self.installed(f"{EXAMPLES}/ha-loopback/{name}")
            result = run([str(self.installed(SBIN)), "--check", "-c", str(path)], cwd=self.tmp)
            self.assertEqual(result.returncode, 0, f"{name}: {result.stderr}")
            self.assertTrue(result.stdout.strip(), f"{name}: no service listed")

    # ---- the systemd unit ----

    def test_unit_checks_the_config_then_runs_the_installed_binary_hardened(self):
        text = self.installed(UNIT).read_text()
        self.assertNotIn("@SBINDIR@", text)
        self.assertEqual(text, (REPO / "scripts" / "postern.service").read_text()
                         .replace("@SBINDIR@", f"{PREFIX}/sbin"))
        sections = unit_directives(text)
        self.assertEqual(set(sections), {"Unit", "Service", "Install"})
        service = sections["Service"]
        for key, value in UNIT_SERVICE.items():
            values = [v for k, v in service if k == key]
            self.assertEqual(values, [value], f"[Service] {key}=")
        self.assertTrue(("DynamicUser", "yes") in service or any(k == "User" for k, _ in service),
                        "runs as DynamicUser=yes or a User= of its own, not root")
        # io_uring must stay allowed by any system call filter (else postern would fall back).
        for key, value in service:
            if key == "SystemCallFilter":
                words = value.lstrip("~").split()
                if value.startswith("~"):
                    denied = [w for w in words if w in IO_URING_CALLS + ("@aio",)]
                    self.assertEqual(denied, [], f"SystemCallFilter={value} denies io_uring")
                else:
                    for call in IO_URING_CALLS:
                        self.assertIn(call, words, f"SystemCallFilter={value} must name {call}")
        self.assertIn(("WantedBy", "multi-user.target"), sections["Install"])

    def verify(self, analyze, unit_text, name="postern.service"):
        """systemd-analyze verify of unit_text written as <fresh dir>/name: (status, output)."""
        folder = Path(tempfile.mkdtemp(prefix="verify-", dir=self.tmp))
        path = folder / name
        path.write_text(unit_text)
        env = dict(os.environ, MANPATH=str(self.installed("usr/share/man")), SYSTEMD_PAGER="cat",
                   SYSTEMD_LOG_COLOR="0")
        args = [analyze, "verify"] + ([] if shutil.which("man") else ["--man=no"]) + [str(path)]
        result = run(args, env=env, cwd=folder)
        return result.returncode, (result.stdout + result.stderr).strip()

    def test_systemd_analyze_verify_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        status, output = self.verify(analyze, "[Service]\nExecStart=/bin/true\n", "control.service")
        if status != 0 or output:
            self.skipTest(f"systemd-analyze verify fails here even on a minimal unit "
                          f"(status {status}): {output[:300]}")
        # The unit names /usr/sbin/postern, which verify checks for: point it into DESTDIR.
        # Documentation=man:postern(8) is looked up in DESTDIR's man pages (MANPATH).
        text = self.installed(UNIT).read_text()
        staged = text.replace(f"{PREFIX}/sbin/postern", str(self.installed(SBIN)))
        status, output = self.verify(analyze, staged)
        self.assertEqual((status, output), (0, ""), "systemd-analyze verify complains")
        # The same verify notices a unit that is wrong, here and now: a missing binary, a bad value.
        status, output = self.verify(analyze, text.replace(f"{PREFIX}/sbin/postern",
                                                           str(self.tmp / "missing" / "postern")))
        self.assertIn("missing/postern", output, "verify did not notice a missing ExecStart binary")
        status, output = self.verify(analyze, staged.replace("Restart=on-failure",
                                                             "Restart=sometimes"))
        self.assertIn("sometimes", output, "verify did not notice a bad Restart= value")

    def test_systemd_analyze_security_rates_the_unit_ok(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        folder = Path(tempfile.mkdtemp(prefix="security-", dir=self.tmp))
        (folder / "postern.service").write_text(self.installed(UNIT).read_text())
        result = run([analyze, "security", "--offline=true", "--no-pager", "postern.service"],
                     cwd=folder, env=dict(os.environ, SYSTEMD_LOG_COLOR="0", SYSTEMD_COLORS="0"))
        match = re.search(r"Overall exposure level for postern\.service: (\d+\.\d+)", result.stdout)
        if match is None:
            self.skipTest(f"systemd-analyze security --offline does not rate units here "
                          f"(status {result.returncode}): {(result.stdout + result.stderr)[:300]}")
        # 0 is a perfect sandbox, 10 none; "OK" is below 3 on systemd's scale.
        self.assertLessEqual(float(match.group(1)), 2.5, result.stdout)

    # ---- the man page ----

    def test_man_page_renders_without_warnings(self):
        groff = shutil.which("groff")
        if groff is None:
            self.skipTest("groff is not installed")
        result = run([groff, "-man", "-Tutf8", "-ww", "-z", str(self.installed(MAN))])
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        rendered = self.rendered_man()
        headings = [h for h in man_sections(rendered) if h in MAN_SECTIONS]
        self.assertEqual(headings, MAN_SECTIONS)
        version = run([str(self.installed(SBIN)), "--version"]).stdout.split()[-1]
        self.assertIn(f"postern {version}", rendered.splitlines()[-1],
                      "the footer names the binary's version")

    def test_man_page_names_every_option_and_variable_of_help(self):
        help_text = run([str(self.installed(SBIN)), "--help"]).stdout
        options = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text))
        variables = set(re.findall(r"\bPOSTERN_[A-Z_]+\b", help_text))
        self.assertTrue({"-c", "-D", "--check", "--version", "--help"} <= options, help_text)
        sections = man_sections(self.rendered_man())
        for option in sorted(options):
            self.assertTrue(names_word(sections["OPTIONS"], option),
                            f"OPTIONS does not describe {option}")
        for variable in sorted(variables):
            self.assertTrue(names_word(sections["ENVIRONMENT"], variable),
                            f"ENVIRONMENT lacks {variable}")
        for signal in ("SIGTERM", "SIGINT", "SIGHUP"):
            self.assertIn(signal, sections["SIGNALS"])
        for status in ("0", "1", "2"):
            self.assertRegex(sections["EXIT STATUS"], rf"(?m)^\s+{status}\s")

    def test_man_page_names_every_element_type_and_option_the_binary_knows(self):
        """The lists come from the binary's own errors and config/options.cc, not from this file."""
        configuration = " ".join(man_sections(self.rendered_man())["CONFIGURATION"].split())

        def expected_list(config_text):
            path = self.tmp / "probe.xml"
            path.write_text(config_text)
            result = run([str(self.installed(SBIN)), "--check", "-c", str(path)])
            self.assertEqual(result.returncode, 1, result.stderr)
            match = re.search(r"expected one of: ([\w, -]+)", result.stderr)
            self.assertIsNotNone(match, result.stderr)
            return [w.strip() for w in match.group(1).split(",")]

        echo = ("  <service><name>e</name><accept>ws://localhost:8000/e</accept>"
                "<type>echo</type></service>")
        elements = expected_list(gateway_xml(echo, "  <bogus/>"))
        self.assertIn("reactor", elements)
        for element in elements:
            self.assertIn(f"<{element}>", configuration)
        types = expected_list(gateway_xml(echo.replace("<type>echo", "<type>bogus")))
        self.assertIn("management", types)
        service_types = man_sections(self.rendered_man())["CONFIGURATION"].split("Service types")[1]
        for type_ in types:
            self.assertRegex(service_types, rf"(?m)^\s+{type_}\b")
        source = (REPO / "config" / "options.cc").read_text()
        options = re.findall(r'"([a-z.-]+)"', source.split("known_options[] = {")[1].split("};")[0])
        self.assertIn("tcp.bind", options)
        for option in options:
            wildcard = option.rsplit(".", 1)[0] + ".*"
            self.assertTrue(names_word(configuration, option) or wildcard in configuration,
                            f"CONFIGURATION does not name the option {option}")


if __name__ == "__main__":
    unittest.main()
