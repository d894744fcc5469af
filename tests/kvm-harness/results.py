#!/usr/bin/env python3
"""Reads the KVMTEST lines of a KVM test run (serial console log or direct output), prints a per-test
list and a summary, and optionally writes a TRX file that tests/run.sh counts with the other projects.

A run that did not reach "KVMTEST DONE" (the L1 crashed or hung, the runner died) is a failure; tests
that the dead run never reached are counted as not executed (skipped), never as passed. A run that finished
but did not report a test it planned fails that test.

The expected tests are the runner's own KVMTEST PLAN lines, printed inside the L1 before the first test: its
discovery is the one that counts, because a test class whose accelerator is missing is discovered differently
(a theory skipped at discovery is one case, run with KVM it is one case per data row). The host's --list
(--expected) stands in only when the run died before printing its plan.
"""
import argparse, datetime, re, sys, uuid
from xml.sax.saxutils import escape, quoteattr

LINE = re.compile(r"KVMTEST (PLAN|RUN|PASS|FAIL|SKIP|DONE)\s?(.*)$")


def split_name(rest, known):
    """Splits "NAME: MESSAGE". A theory case's name has ": " in it ("T.M(vcpus: 1)"), so the longest test name the
    run announced that the line starts with is the name; the first ": " only for a name it never announced."""
    rest = rest.strip()
    for name in sorted(set(known), key=len, reverse=True):
        if rest == name or rest.startswith(name + ": "):
            return name, rest[len(name) + 2:]
    name, _, msg = rest.partition(": ")
    return name.strip(), msg


def parse(path):
    results, planned, started, done = {}, [], [], None
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.search(raw.rstrip("\r\n").replace("\r", ""))
            if not m:
                continue
            kind, rest = m.groups()
            if kind == "PLAN":
                planned.append(rest.strip())
            elif kind == "RUN":
                started.append(rest.strip())
            elif kind == "PASS":
                t = re.match(r"(.*) \((\d+) ms\)$", rest)
                name, ms = (t.group(1), int(t.group(2))) if t else (rest.strip(), 0)
                results[name] = ("Passed", ms, "")
            elif kind in ("FAIL", "SKIP"):
                name, msg = split_name(rest, started + planned)
                results[name] = ("Failed" if kind == "FAIL" else "NotExecuted", 0, msg)
            elif kind == "DONE":
                done = rest
    return results, planned, started, done


def write_trx(path, results, run_name, harness_error):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    counts = {o: sum(1 for r in results.values() if r[0] == o) for o in ("Passed", "Failed", "NotExecuted")}
    failed = counts["Failed"] + (1 if harness_error else 0)
    list_id = str(uuid.uuid4())
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<TestRun id="{uuid.uuid4()}" name={quoteattr(run_name)} xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">',
           f'  <Times creation="{now}" start="{now}" finish="{now}" />', '  <Results>']
    entries = list(results.items())
    if harness_error:
        entries.append(("KvmHarness.Run", ("Failed", 0, harness_error)))
    defs = []
    for name, (outcome, ms, msg) in entries:
        test_id, exec_id = uuid.uuid4(), uuid.uuid4()
        dur = str(datetime.timedelta(milliseconds=ms))
        out.append(f'    <UnitTestResult executionId="{exec_id}" testId="{test_id}" testName={quoteattr(name)} '
                   f'computerName="kvm-harness" duration="{dur}" startTime="{now}" endTime="{now}" '
                   f'testType="13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b" outcome="{outcome}" testListId="{list_id}">')
        if outcome == "Failed":
            out.append(f'      <Output><ErrorInfo><Message>{escape(msg)}</Message></ErrorInfo></Output>')
        elif outcome == "NotExecuted":
            out.append(f'      <Output><StdOut>{escape(msg)}</StdOut></Output>')
        out.append('    </UnitTestResult>')
        cls, _, method = name.rpartition(".")
        defs.append(f'    <UnitTest name={quoteattr(name)} id="{test_id}"><Execution id="{exec_id}" />'
                    f'<TestMethod codeBase="kvm-harness" className={quoteattr(cls or "KvmHarness")} name={quoteattr(method)} /></UnitTest>')
    out += ['  </Results>', '  <TestDefinitions>'] + defs + ['  </TestDefinitions>',
            f'  <TestLists><TestList name="Results Not in a List" id="{list_id}" /></TestLists>',
            f'  <ResultSummary outcome="{"Failed" if failed else "Completed"}">',
            f'    <Counters total="{len(entries)}" executed="{counts["Passed"] + failed}" passed="{counts["Passed"]}" '
            f'failed="{failed}" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" '
            f'notExecuted="{counts["NotExecuted"]}" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />',
            '  </ResultSummary>', '</TestRun>']
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--expected", help="file with the expected test names, one per line (used when the log has no plan)")
    p.add_argument("--trx")
    p.add_argument("--label", default="KVM harness")
    p.add_argument("--harness-error", default="", help="why the run itself failed (L1 crash, hang, boot failure)")
    a = p.parse_args()

    results, planned, started, done = parse(a.log)
    error = a.harness_error
    if not error and not any(r[0] == "Passed" for r in results.values()) and not any(r[0] == "Failed" for r in results.values()):
        error = "no KVM test ran" if done is not None else ""
    if done is None and not error:
        last = started[-1] if started else "(no test started)"
        error = f"the run ended without KVMTEST DONE; last test started: {last}"
    if error and started and started[-1] not in results:
        results[started[-1]] = ("Failed", 0, f"did not finish: {error}")
    expected = planned
    if not expected and a.expected:
        with open(a.expected) as f:
            expected = [l.strip() for l in f if l.strip()]
    for name in expected:
        if name not in results:
            # After a dead run, what it never reached is skipped (the run itself is the failure). A finished run
            # that leaves out a test it planned has lost a result: that is a failure, never a quiet skip.
            results[name] = ("NotExecuted", 0, f"not run: {error}") if error \
                else ("Failed", 0, "planned but never reported by a run that finished")

    for name, (outcome, ms, msg) in sorted(results.items()):
        tag = {"Passed": "PASS", "Failed": "FAIL", "NotExecuted": "SKIP"}[outcome]
        print(f"  {tag} {name}" + (f" ({ms} ms)" if outcome == "Passed" else f": {msg}"))
    passed = sum(1 for r in results.values() if r[0] == "Passed")
    failed = sum(1 for r in results.values() if r[0] == "Failed") + (1 if error else 0)
    skipped = sum(1 for r in results.values() if r[0] == "NotExecuted")
    if error:
        print(f"{a.label}: run failed: {error}")
    print(f"{a.label}: {passed} passed, {failed} failed, {skipped} skipped")
    if a.trx:
        write_trx(a.trx, results, a.label, error)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
