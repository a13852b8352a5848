#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Result accounting of the pathstore harness (scripts/test.sh and scripts/check.sh).

Every subcommand reads logs and appends records to a results file, one per line, tab-separated:

    KIND  STATUS  NAME  DETAILS

KIND is `test` (a test of the module or of the tools: counted in `N passed`) or `check` (a step
of the harness: lint, build, insmod/rmmod between passes, counts, kernel log; never counted as a
pass, but a failed check fails the run). STATUS is `ok`, `fail` or `skip`.

  tally.py RESULTS passes LOG [--timings FILE] [--require PASS ...]
      The passes a log marks (the guest's output, see scripts/guest-tests.sh):
        @@ begin PASS libtest expect=N   a libtest binary run; N from its `--list`
        @@ begin PASS tap                a TAP producer; its plan line `1..N` is the count
        @@ end PASS status=S seconds=T   the runner's exit status, the pass's duration
        @@ check ok|fail NAME[: DETAILS] a harness check
        @@ time SECONDS                  the guest's uptime, after each libtest result: the
                                         slowest tests go to --timings
      For each pass: the result lines inside it; a check that it ended, that exactly the expected
      number of tests reported (none expected is a failure: a filter matched nothing), that the
      runner's summary agrees, and that the exit status agrees with the results. A --require'd
      pass that never began fails.
  tally.py RESULTS cargo PREFIX LOG STATUS
      `cargo test` output (several libtest binaries and doc-tests): every binary's results, the
      sum of their `running N tests` lines as the count, and cargo's exit status.
  tally.py RESULTS kunit LOG --suites A,B,... [--runs N]
      KUnit results (KTAP) in a kernel log: every run of the module's suites (one per module
      load) must hold each suite named in --suites, with as many cases as its plan line says;
      there must be at least N runs. A case counts once (failed if it failed in any run).
  tally.py RESULTS splats NAME LOG
      A check that LOG exists and holds no kernel splat.
  tally.py RESULTS summary
      Prints every result, the checks' count (`harness checks: N of M ok`) and the closing line
      `N passed, N failed, N skipped` (N failed counts failed tests and failed checks); exits 1
      when anything failed.
"""
import os
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\(B")
LIBTEST_RESULT = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)(?:, (.*))?$")
LIBTEST_PENDING = re.compile(r"^test (.+?) \.\.\. (.*)$")
LIBTEST_RUNNING = re.compile(r"^running (\d+) tests?$")
LIBTEST_SUMMARY = re.compile(
    r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured; "
    r"(\d+) filtered out"
)
TAP_RESULT = re.compile(r"^(not ok|ok)\b(?:\s+(\d+))?(?:\s+-)?\s*(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#.*)?$")
MARK = re.compile(r"^@@ (begin|end|check|time) (.*)$")
# Kernel splats: KASAN, lockdep, kmemleak (leaks, and kmemleak switching itself off), hung tasks,
# BUG/WARNING/Oops, Rust panics, UBSAN.
SPLAT = re.compile(
    r"BUG:|WARNING:|Oops|kernel BUG|general protection fault|KASAN:|possible circular locking|"
    r"possible recursive locking|inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|"
    r"irq lock inversion|bad unlock balance|suspected memory leak|blocked for more than|"
    r"Call Trace:|rust_panic|panicked at|UBSAN|Kernel memory leak detector disabled"
)


def clean(line):
    return ANSI.sub("", line.rstrip("\r\n")).rstrip("\r")


def one_line(text):
    return " ".join(str(text).split())


class Results:
    def __init__(self, path):
        self.out = open(path, "a")

    def add(self, kind, status, name, details=""):
        name = one_line(name)
        self.out.write(f"{kind}\t{status}\t{name}\t{one_line(details)}\n")
        self.out.flush()

    def test(self, status, name, details=""):
        self.add("test", status, name, details)

    def check(self, ok, name, details=""):
        self.add("check", "ok" if ok else "fail", name, "" if ok else details)


def split_tap(rest):
    """Name, directive and details of the text after `ok N -`."""
    directive = ""
    m = re.search(r"\s#\s*(SKIP|TODO)\b\s*(.*)$", rest, re.IGNORECASE)
    if m:
        directive = m.group(1).upper()
        reason = m.group(2)
        rest = rest[: m.start()]
    else:
        reason = ""
    details = ""
    if ": " in rest:
        rest, details = rest.split(": ", 1)
    return rest.strip(), directive, reason or details


class Pass:
    def __init__(self, name, kind, expect):
        self.name, self.kind, self.expect = name, kind, expect
        self.records = []  # (status, test name, details)
        self.plan = None
        self.plans = 0
        self.summaries = []  # libtest (passed, failed, ignored)
        self.running = []  # libtest `running N tests`
        self.status = None
        self.seconds = None
        self.bail = None
        self.pending = None
        self.in_failures = False
        self.misnumbered = []
        self.last_time = None
        self.durations = []  # (seconds, test name)

    def stamp(self, text):
        try:
            now = float(text.split()[0])
        except (ValueError, IndexError):
            return
        if self.last_time is not None and self.records:
            self.durations.append((now - self.last_time, self.records[-1][1]))
        self.last_time = now

    def line(self, text):
        if self.kind in ("libtest", "cargo"):
            self.libtest_line(text)
        else:
            self.tap_line(text)

    def libtest_line(self, text):
        m = LIBTEST_RUNNING.match(text)
        if m:
            self.running.append(int(m.group(1)))
            self.in_failures = False
            return
        m = LIBTEST_SUMMARY.match(text)
        if m:
            self.summaries.append((int(m.group(2)), int(m.group(3)), int(m.group(4))))
            self.in_failures = False
            return
        if text == "failures:":
            # The failures' captured output follows (it may quote other runs' result lines).
            self.in_failures = True
            return
        if self.in_failures:
            return
        m = LIBTEST_RESULT.match(text)
        if m:
            self.libtest_result(m.group(1), m.group(2), m.group(3) or "")
            return
        m = LIBTEST_PENDING.match(text)
        if m:
            # A result that uncaptured output (of a child process) split from its name.
            self.pending = m.group(1)
            return
        if self.pending and text in ("ok", "FAILED", "ignored"):
            self.libtest_result(self.pending, text, "")
            self.pending = None

    def libtest_result(self, name, outcome, reason):
        status = {"ok": "ok", "FAILED": "fail", "ignored": "skip"}[outcome]
        self.records.append((status, name, reason))
        self.pending = None

    def tap_line(self, text):
        m = TAP_PLAN.match(text)
        if m:
            self.plan = int(m.group(1))
            self.plans += 1
            return
        if text.startswith("Bail out!"):
            self.bail = text
            return
        m = TAP_RESULT.match(text)
        if m:
            if m.group(2) is not None and int(m.group(2)) != len(self.records) + 1:
                self.misnumbered.append(f"result {m.group(2)} came {len(self.records) + 1}th")
            name, directive, details = split_tap(m.group(3))
            if m.group(1) == "not ok":
                status = "fail"
            elif directive == "SKIP":
                status = "skip"
            elif directive == "TODO":
                status = "fail"
                details = "a TODO is not a pass: " + details
            else:
                status = "ok"
            self.records.append((status, name, details))

    def verdict(self):
        """(ok, details) of the pass's accounting."""
        n = len(self.records)
        failed = sum(1 for r in self.records if r[0] == "fail")
        problems = []
        if self.status is None:
            problems.append("did not finish (no end marker: the runner or the guest died)")
        if self.kind == "libtest":
            if self.expect is None:
                problems.append("no expected count")
            elif self.expect == 0:
                problems.append("its filter matched no test")
            elif n != self.expect:
                problems.append(f"{self.expect} tests expected, {n} reported")
            if len(self.summaries) != 1:
                problems.append(f"{len(self.summaries)} libtest summaries, expected 1")
            else:
                p, f, i = self.summaries[0]
                if (p, f, i) != (
                    sum(1 for r in self.records if r[0] == "ok"),
                    failed,
                    sum(1 for r in self.records if r[0] == "skip"),
                ):
                    problems.append(f"libtest's summary ({p} passed, {f} failed, {i} ignored) "
                                    "disagrees with the result lines")
        elif self.kind == "cargo":
            if not self.running:
                problems.append("no test binary ran")
            elif sum(self.running) != n:
                problems.append(f"{sum(self.running)} tests announced, {n} reported")
            if len(self.summaries) != len(self.running):
                problems.append(f"{len(self.running)} binaries started, "
                                f"{len(self.summaries)} finished")
        else:
            if self.plans != 1:
                problems.append(f"{self.plans} plan lines (1..N), expected 1")
            elif self.plan == 0:
                problems.append("its plan is empty (1..0)")
            elif self.plan != n:
                problems.append(f"plan 1..{self.plan}, {n} results")
            if self.expect is not None and self.expect != n:
                problems.append(f"{self.expect} tests expected, {n} reported")
            if self.misnumbered:
                problems.append("results out of order: " + ", ".join(self.misnumbered[:3]))
        if self.bail:
            problems.append(self.bail)
        if self.status is not None:
            if self.status != 0 and failed == 0:
                problems.append(f"exit status {self.status} with no failed test")
            if self.status == 0 and failed:
                problems.append(f"exit status 0 with {failed} failed tests")
        return not problems, "; ".join(problems)


def parse_mark_args(text):
    words = text.split()
    name = words[0]
    kind = words[1] if len(words) > 1 else ""
    opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    return name, kind, opts


def cmd_passes(res, log, required, timings=None):
    passes = {}
    order = []
    current = None
    try:
        lines = open(log, errors="replace").read().split("\n")
    except OSError as e:
        res.check(False, f"log/{os.path.basename(log)}", f"cannot read {log}: {e}")
        lines = []
    for raw in lines:
        text = clean(raw)
        m = MARK.match(text)
        if m:
            what, rest = m.group(1), m.group(2)
            if what == "time":
                if current is not None:
                    current.stamp(rest)
                continue
            if what == "check":
                status, _, name = rest.partition(" ")
                name, _, details = name.partition(": ")
                res.check(status == "ok", name, details or "failed")
                continue
            name, kind, opts = parse_mark_args(rest)
            if what == "begin":
                if name in passes:
                    res.check(False, f"pass/{name}", "began twice")
                expect = int(opts["expect"]) if "expect" in opts else None
                current = Pass(name, kind, expect)
                passes[name] = current
                order.append(current)
            elif what == "end":
                if current is None or current.name != name:
                    res.check(False, f"pass/{name}", "ended without beginning")
                else:
                    try:
                        current.status = int(opts.get("status", ""))
                    except ValueError:
                        current.status = -1
                    current.seconds = opts.get("seconds")
                current = None
            continue
        if current is not None:
            current.line(text)
    for p in order:
        for status, name, details in p.records:
            res.test(status, f"{p.name}/{name}", details)
        ok, details = p.verdict()
        res.check(ok, f"pass/{p.name}", details)
        if p.seconds is not None and timings:
            with open(timings, "a") as t:
                t.write(f"{'guest ' + p.name:<28} {p.seconds:>4}s (guest clock)\n")
    slowest = sorted(((d, f"{p.name}/{n}") for p in order for d, n in p.durations), reverse=True)
    if slowest and timings:
        with open(timings, "a") as t:
            t.write("slowest tests (guest clock):\n")
            for d, n in slowest[:12]:
                t.write(f"  {d:7.1f}s {n}\n")
    for name in required:
        if name not in passes:
            res.check(False, f"pass/{name}", "never began")


def cmd_cargo(res, prefix, log, status):
    p = Pass(prefix, "cargo", None)
    binary = "?"
    try:
        lines = open(log, errors="replace").read().split("\n")
    except OSError as e:
        res.check(False, f"pass/{prefix}", f"cannot read {log}: {e}")
        return
    for raw in lines:
        text = clean(raw).strip()
        m = re.match(r"^Running (?:unittests )?(\S+) \((?:.*/)?([^/)]+?)(?:-[0-9a-f]{16})?\)$", text)
        if m:
            binary = f"{m.group(2)}:{m.group(1)}"
            continue
        m = re.match(r"^Doc-tests (\S+)$", text)
        if m:
            binary = f"doc:{m.group(1)}"
            continue
        before = len(p.records)
        p.line(text)
        if len(p.records) > before:
            s, n, d = p.records[-1]
            p.records[-1] = (s, f"{binary}/{n}", d)
    p.status = status
    for s, n, d in p.records:
        res.test(s, f"{prefix}/{n}", d)
    ok, details = p.verdict()
    res.check(ok, f"pass/{prefix}", details)


KMSG_PREFIX = re.compile(r"^(?:<\d+>)?\[\s*\d+\.\d+\] ?")


def cmd_kunit(res, log, suites, min_runs):
    try:
        lines = open(log, errors="replace").read().split("\n")
    except OSError as e:
        res.check(False, "kunit/log", f"cannot read {log}: {e}")
        return
    runs = []
    run = None
    suite = None
    for raw in lines:
        text = clean(raw)
        m = KMSG_PREFIX.match(text)
        if not m:
            continue
        text = text[m.end():]
        indent = len(text) - len(text.lstrip(" "))
        body = text.strip()
        if indent == 0 and body == "KTAP version 1":
            run = {"plan": None, "suites": []}
            runs.append(run)
            suite = None
            continue
        if run is None:
            continue
        if indent == 0:
            mp = TAP_PLAN.match(body)
            if mp and run["plan"] is None:
                run["plan"] = int(mp.group(1))
                continue
            mr = TAP_RESULT.match(body)
            if mr and suite is not None:
                name, _, _ = split_tap(mr.group(3))
                if name == suite["name"]:
                    suite["result"] = mr.group(1)
                    suite = None
            continue
        if indent != 4:
            continue
        ms = re.match(r"^# Subtest: (\S+)$", body)
        if ms:
            suite = {"name": ms.group(1), "plan": None, "cases": [], "result": None}
            run["suites"].append(suite)
            continue
        if suite is None:
            continue
        mp = TAP_PLAN.match(body)
        if mp and suite["plan"] is None:
            suite["plan"] = int(mp.group(1))
            continue
        mr = TAP_RESULT.match(body)
        if mr:
            name, directive, details = split_tap(mr.group(3))
            if mr.group(1) == "not ok":
                status = "fail"
            elif directive == "SKIP":
                status = "skip"
            else:
                status = "ok"
            suite["cases"].append((status, name, details))
    wanted = set(suites)
    ours = [r for r in runs if any(s["name"] in wanted for s in r["suites"])]
    merged = {}
    problems = []
    for i, r in enumerate(ours, 1):
        names = [s["name"] for s in r["suites"]]
        missing = sorted(wanted - set(names))
        if missing:
            problems.append(f"run {i}: suites missing: {', '.join(missing)}")
        if r["plan"] != len(r["suites"]):
            problems.append(f"run {i}: plan 1..{r['plan']}, {len(r['suites'])} suites ran")
        for s in r["suites"]:
            if s["plan"] is None or s["plan"] == 0:
                problems.append(f"run {i}: suite {s['name']} has no cases (plan {s['plan']})")
            elif s["plan"] != len(s["cases"]):
                problems.append(f"run {i}: suite {s['name']}: plan 1..{s['plan']}, "
                                f"{len(s['cases'])} cases reported")
            if s["result"] is None:
                problems.append(f"run {i}: suite {s['name']} did not finish")
            for status, case, details in s["cases"]:
                key = f"kunit/{s['name']}/{case}"
                prev = merged.get(key)
                if prev is None or status == "fail" or (prev[0] == "skip" and status == "ok"):
                    merged[key] = (status, details)
    if len(ours) < min_runs:
        problems.append(f"{len(ours)} runs of the module's KUnit suites, {min_runs} expected "
                        "(one per module load)")
    for key, (status, details) in merged.items():
        res.test(status, key, details)
    res.check(not problems, "pass/kunit", "; ".join(problems))


def cmd_splats(res, name, log):
    if not os.path.isfile(log):
        res.check(False, name, f"{log} is missing")
        return
    hits = []
    for i, raw in enumerate(open(log, errors="replace"), 1):
        if SPLAT.search(raw):
            hits.append(f"{i}: {clean(raw)}")
    if hits:
        sys.stderr.write(f"kernel splats in {log}:\n" + "\n".join(hits[:40]) + "\n")
    res.check(not hits, name, f"{len(hits)} splat lines in {log}, first: {hits[0]}" if hits else "")


def cmd_summary(path):
    tests = {"ok": 0, "fail": 0, "skip": 0}
    checks = {"ok": 0, "fail": 0}
    lines = []
    failures = []
    for raw in open(path, errors="replace"):
        parts = raw.rstrip("\n").split("\t")
        if len(parts) < 3:
            continue
        kind, status, name = parts[:3]
        details = parts[3] if len(parts) > 3 else ""
        if kind == "test":
            tests[status] = tests.get(status, 0) + 1
            label = {"ok": "ok   ", "fail": "FAIL ", "skip": "SKIP "}[status]
        else:
            checks[status] = checks.get(status, 0) + 1
            label = {"ok": "check", "fail": "CHECK FAILED"}[status]
        text = f"{label} {name}"
        if status != "ok" and details:
            text += f"  ({details})"
        lines.append(text)
        if status == "fail":
            failures.append(text)
    print("\n".join(lines))
    if failures:
        print("\nFailures:")
        print("\n".join(failures))
    # Worded so that nothing but the closing line reads "N passed, N failed".
    print(f"\nharness checks: {checks['ok']} of {checks['ok'] + checks['fail']} ok")
    failed = tests["fail"] + checks["fail"]
    print(f"{tests['ok']} passed, {failed} failed, {tests['skip']} skipped")
    return 1 if failed or tests["ok"] == 0 else 0


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, cmd, args = argv[1], argv[2], argv[3:]
    if cmd == "summary":
        return cmd_summary(path)
    res = Results(path)
    if cmd == "passes":
        log, required, timings = args[0], [], None
        rest = args[1:]
        if len(rest) >= 2 and rest[0] == "--timings":
            timings, rest = rest[1], rest[2:]
        if rest and rest[0] == "--require":
            required = rest[1:]
        cmd_passes(res, log, required, timings)
    elif cmd == "cargo":
        prefix, log, status = args
        cmd_cargo(res, prefix, log, int(status))
    elif cmd == "kunit":
        log = args[0]
        suites, runs = [], 1
        i = 1
        while i < len(args):
            if args[i] == "--suites":
                suites = [s for s in args[i + 1].split(",") if s]
                i += 2
            elif args[i] == "--runs":
                runs = int(args[i + 1])
                i += 2
            else:
                raise SystemExit(f"tally.py kunit: unknown argument {args[i]}")
        if not suites:
            res.check(False, "pass/kunit", "no KUnit suite expected (none found in src/)")
        cmd_kunit(res, log, suites, runs)
    elif cmd == "splats":
        cmd_splats(res, args[0], args[1])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
