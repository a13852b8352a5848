#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The helper of scripts/mutants.sh: reads the list of mutants, applies one, tells what caught it.

  mutants.py names LIST                  the mutants' names, in order, one a line
  mutants.py describe LIST NAME          `FILE<TAB>BUG` of one mutant
  mutants.py apply LIST NAME DIR         applies the mutant to DIR (a copy of the checkout's src/
                                         and Kbuild): its `find` must occur exactly once in
                                         DIR/FILE; exits 2 with a message when it does not
  mutants.py caught RESULTS              what failed in a scripts/test.sh results folder, first
                                         failure first: the pass or check, then its first failed
                                         test; exits 1 when nothing failed
  mutants.py table ROWS                  the Markdown table of a run (ROWS: one
                                         `NAME<TAB>OUTCOME<TAB>CAUGHT BY<TAB>SECONDS` line per
                                         mutant, as scripts/mutants.sh writes them)

The list's format is described at the top of scripts/mutants/list.
"""
import configparser
import os
import re
import sys


def load(path):
    parser = configparser.RawConfigParser(delimiters=("=",), comment_prefixes=("#",),
                                          inline_comment_prefixes=None, strict=True,
                                          empty_lines_in_values=False)
    parser.optionxform = str
    with open(path) as f:
        parser.read_file(f)
    mutants = []
    for name in parser.sections():
        section = parser[name]
        missing = [k for k in ("file", "bug", "find", "replace") if k not in section]
        extra = [k for k in section if k not in ("file", "bug", "find", "replace")]
        if missing or extra:
            sys.exit(f"mutants: [{name}] in {path}: missing {missing}, unknown {extra}")
        if not section["find"].strip():
            sys.exit(f"mutants: [{name}] in {path}: empty find")
        mutants.append({
            "name": name,
            "file": section["file"].strip(),
            "bug": " ".join(section["bug"].split()),
            "find": unescape(section["find"].strip()),
            "replace": unescape(section["replace"].strip()),
        })
    return mutants


def unescape(text):
    return re.sub(r"\\(n|\\)", lambda m: "\n" if m.group(1) == "n" else "\\", text)


def find(mutants, name):
    for m in mutants:
        if m["name"] == name:
            return m
    sys.exit(f"mutants: no mutant named {name}")


def apply(mutant, root):
    path = os.path.join(root, mutant["file"])
    if not os.path.isfile(path):
        print(f"ERROR: mutant {mutant['name']}: no file {mutant['file']}", file=sys.stderr)
        return 2
    with open(path) as f:
        text = f.read()
    n = text.count(mutant["find"])
    if n != 1:
        print(f"ERROR: mutant {mutant['name']} does not apply: its text occurs {n} times in "
              f"{mutant['file']} (must be once); refresh it in scripts/mutants/list:\n"
              f"  find = {mutant['find']!r}", file=sys.stderr)
        return 2
    with open(path, "w") as f:
        f.write(text.replace(mutant["find"], mutant["replace"]))
    return 0


MARK_BEGIN = re.compile(r"^@@ begin (\S+) ")
MARK_END = re.compile(r"^@@ end (\S+) status=(\d+)")
LIBTEST_LINE = re.compile(r"^test (.+?) \.\.\.(.*)$")
MARK_CHECK_FAIL = re.compile(r"^@@ check fail (.*)$")


def caught(results):
    """The first failure of a run: from the guest's markers, in the order they ran, then from
    the results file (KUnit, the kernel log scans)."""
    records = []
    try:
        with open(os.path.join(results, "results.txt")) as f:
            for line in f:
                kind, status, name, details = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
                records.append((kind, status, name, details))
    except OSError:
        return None
    failed_tests = [name for kind, status, name, _ in records if kind == "test" and status == "fail"]
    first = None
    # The pass running when the guest stopped, and its test without a result, if any.
    running, pending = None, None
    try:
        with open(os.path.join(results, "guest.log"), errors="replace") as f:
            for line in f:
                line = line.rstrip("\r\n")
                m = MARK_BEGIN.match(line)
                if m:
                    running, pending = m.group(1), None
                    continue
                m = LIBTEST_LINE.match(line)
                if m:
                    pending = None if m.group(2).strip() else m.group(1)
                    continue
                if MARK_END.match(line):
                    running = None
                m = MARK_END.match(line)
                if m and m.group(2) != "0":
                    first = ("pass", m.group(1))
                    break
                m = MARK_CHECK_FAIL.match(line)
                if m:
                    first = ("check", m.group(1))
                    break
    except OSError:
        pass
    if first and first[0] == "pass":
        tests = [t for t in failed_tests if t.startswith(first[1] + "/")]
        return f"{first[1]}: {tests[0].split('/', 1)[1]}" if tests else f"{first[1]} (status)"
    if first and first[1].startswith("guest/KUnit"):
        kunit = [t for t in failed_tests if t.startswith("kunit/")]
        return f"KUnit: {kunit[0].split('/', 1)[1]}" if kunit else first[1]
    if first:
        return first[1]
    if running:
        what = f"{pending} did not finish" if pending else "did not finish"
        return f"{running}: {what} (the guest stopped: timeout or crash)"
    # The guest ran every pass: what the host found afterwards (KUnit, kernel log, counts).
    for kind, status, name, details in records:
        if status == "fail":
            return name + (f" ({details})" if details and kind == "check" else "")
    return None


def table(rows_path):
    out = ["| # | mutant | file | result | caught by | time |", "|---|---|---|---|---|---|"]
    with open(rows_path) as f:
        for i, line in enumerate(f, 1):
            name, outcome, by, seconds, file = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
            by = by.replace("|", "\\|")
            out.append(f"| {i} | `{name}` | `{file}` | {outcome} | {by} | {seconds} s |")
    return "\n".join(out)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "names":
        for m in load(argv[2]):
            print(m["name"])
    elif cmd == "describe":
        m = find(load(argv[2]), argv[3])
        print(f"{m['file']}\t{m['bug']}")
    elif cmd == "apply":
        return apply(find(load(argv[2]), argv[3]), argv[4])
    elif cmd == "caught":
        what = caught(argv[2])
        if what is None:
            return 1
        print(" ".join(what.split()))
    elif cmd == "table":
        print(table(argv[2]))
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
