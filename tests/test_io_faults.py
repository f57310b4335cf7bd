#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An I/O error at every step of a write, a compaction and a recovery loses nothing.

Usage: test_io_faults.py PAPYRA_BINARY CLI_WRITER_BINARY

The sibling of test_crash.py: where that one kills the process at every
file-changing system call, this one makes that call fail, with EIO and then
with ENOSPC, and checks what the process and the store do about it. For the
JSON-lines and the rotating backends it walks

  * writes of single records (cli-writer store: one write call per record)
    and of a batch (cli-writer batch: all records in one write call), each
    with fsync=never, always and everysec;
  * a write that rotates (rotating, fsync=always);
  * `papyra persistence compact` with a retention limit (it really rewrites);
  * `papyra persistence recover` in repair and in quarantine mode, on a store
    with a corrupt line and a torn tail.

A first, untouched run under strace lists the operation's file-changing
calls in order: every call of the set below, `openat` only when it creates
or truncates (O_CREAT, O_TRUNC), and the CLI's writes to stdout, whose
failure it must report too. strace counts a `when=` per system call and per
thread, so `-e inject=SET:error=EIO:when=N` would fail the Nth write and the
Nth fsync and the Nth rename... of one run; instead the Nth call of the list,
the Kth `rename` say, is failed alone with `-e inject=rename:error=EIO:when=K`,
and the run's trace must show that exactly that call failed. N walks the
whole list, and a last run, with every call injected one past its count,
must come out untouched.

After every injected failure:

  * the process reports it: exit 1 (docs/cli.md; cli-writer exits 1 too)
    with one line on stderr naming the error and what failed: the store's
    file (or one of its rotated files), or the file the failed call was on,
    and no other file. An error that is not reported at all is accepted
    only when the operation retried the very call and it then succeeded, or
    when the call failed in the untouched run too (mkdir of a directory that
    exists), so failing it differently changes nothing;
  * the counters of `papyra metrics persistence --json` moved exactly as the
    spec says: records_written by the records the writer was told are stored
    and write_errors +1 for its failed write call; compactions_triggered +1
    and compaction_errors +1 for a failed compaction; recovery_attempts +1,
    recovery_failures +1 and the scans it ran for a failed recovery (failed
    in its first scan: scan_operations +1 and the old data; in the repair:
    scan_operations +1 and the first scan's anomaly_detected; in the
    verifying scan: scan_operations +2 and the new data); exactly what the
    untouched run counted when only the output failed; nothing when the CLI
    failed before it called the store (making --quarantine-dir);
  * the store, after `papyra persistence scan` (which also settles a
    half-made rotating rewrite), holds byte for byte the old data or the new
    data: for writes, exactly the records the writer was told succeeded, in
    order (a torn tail that scan reports must be repaired by `papyra
    persistence recover`, keeping every acknowledged record; a rotation that
    failed half-way may only have dropped what it was dropping); for
    compact and recover, the old or the new files, with no temp file or
    staging directory left, and a quarantine directory holding only whole
    copies of damaged files. One exception: after a failed fsync or
    fdatasync of the data file (not of a directory), the store may also
    hold records of the write call that got the sync error, but only
    whole, after every acknowledged one, each at most once, and nothing
    torn (scan is clean). A failed sync means "not known to be durable",
    not "not written", and libpapyra never deletes a whole record
    (docs/store.md, "Durability errors stick"; docs/decisions.md);
  * the store still works: a writer appends after the failed write (a new
    handle: the failed one is poisoned after a failed sync), and the
    same compaction or recovery run again reaches exactly the state an
    uninterrupted run reaches.

Runs under strace have LeakSanitizer turned off (it refuses to run under
ptrace); the runs that check the store afterwards keep it.
PAPYRA_TEST_IO_FAULTS_ONLY=SUBSTRING runs only the walks whose name holds it;
PAPYRA_TEST_IO_FAULTS_VERBOSE=1 prints every injection point and its outcome.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from strace_walk import STRACE, rotating_set, strace_missing, write_lines

PAPYRA = os.path.abspath(sys.argv[1])
WRITER = os.path.abspath(sys.argv[2])

# The file-changing system calls: test_crash.py's set, with flock left out
# (it cannot fail with EIO or ENOSPC) and truncate added.
CALLS = ("openat,creat,write,pwrite64,writev,fsync,fdatasync,rename,renameat,renameat2,"
         "link,linkat,unlink,unlinkat,ftruncate,truncate,mkdir,mkdirat,rmdir,copy_file_range,"
         "sync_file_range")
CALL_SET = set(CALLS.split(","))
# The calls whose string arguments are file names (the others take descriptors).
PATH_CALLS = {"openat", "creat", "rename", "renameat", "renameat2", "link", "linkat", "unlink",
              "unlinkat", "truncate", "mkdir", "mkdirat", "rmdir"}
ERRORS = {"EIO": "input/output error", "ENOSPC": "no space left on device"}
COUNTERS = ("records_written", "write_errors", "records_read", "read_errors", "scan_operations",
            "anomaly_detected", "recovery_attempts", "recovery_failures",
            "compactions_triggered", "compaction_errors")
TIMEOUT = 60
N_RECORDS = 3  # records a write case writes
VERBOSE = os.environ.get("PAPYRA_TEST_IO_FAULTS_VERBOSE") == "1"

_seccomp = None


def seccomp_args():
    """--seccomp-bpf makes strace stop only at the traced calls (much faster), where it works."""
    global _seccomp
    if _seccomp is None:
        p = subprocess.run([STRACE, "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e",
                            "trace=write", "true"], capture_output=True)
        _seccomp = ["--seccomp-bpf"] if p.returncode == 0 else []
    return _seccomp


class Run:
    def __init__(self, p, trace=""):
        self.rc = p.returncode if p is not None else None
        self.out = p.stdout if p is not None else ""
        self.err = p.stderr if p is not None else "timed out after %d s" % TIMEOUT
        self.trace = trace


def run(cmd, strace_args=None, trace_path=None):
    env = None
    if strace_args is not None:
        cmd = [STRACE, "-f", "-qq", *seccomp_args(), "-o", trace_path, "-e", "signal=none",
               *strace_args, *cmd]
        # LeakSanitizer cannot work under ptrace (it says so and fails the run): leaks are for
        # the untraced runs to find.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        p = None
    trace = ""
    if trace_path and os.path.exists(trace_path):
        with open(trace_path, errors="replace") as f:
            trace = f.read()
        os.unlink(trace_path)
    return Run(p, trace)


# --- the store --------------------------------------------------------------------------------


def data_state(d):
    """The store's data: every data file's bytes, by name (metrics, hidden files, dirs aside)."""
    state = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name.startswith(".") or ".metrics" in name or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            state[name] = f.read()
    return state


def records(state, base):
    """The stored lines, oldest first: PATH.<highest> .. PATH.1, then PATH."""
    def order(name):
        if name == base:
            return 0
        tail = name[len(base) + 1:]
        return -int(tail)
    lines = []
    ours = (n for n in state if n == base or (n.startswith(base + ".") and
                                               n[len(base) + 1:].isdigit()))
    for name in sorted(ours, key=order):
        lines += state[name].splitlines(keepends=True)
    return lines


def counters(url):
    r = run([PAPYRA, "--persistence", url, "metrics", "persistence", "--json"])
    if r.rc != 0:
        return None, r.err.strip()
    return json.loads(r.out), None


def delta(before, after):
    return {k: (after[k] or 0) - (before[k] or 0) for k in COUNTERS}


def show_delta(d):
    return ", ".join("%s %+d" % (k, v) for k, v in d.items() if v) or "nothing"


# --- traces -----------------------------------------------------------------------------------

START = re.compile(r"^(\d+)\s+(\w+)\((.*)$")


def calls_of(trace):
    """(tid, name, args, result) of every call that starts in a trace, in order."""
    out = []
    pending = {}
    for ln in trace.splitlines():
        m = START.match(ln)
        if m:
            tid, name, rest = m.groups()
            if rest.endswith("<unfinished ...>"):
                pending[tid] = len(out)
                out.append([tid, name, rest[:-len("<unfinished ...>")].strip(), ""])
            else:
                out.append([tid, name, *split_result(rest)])
            continue
        m = re.match(r"^(\d+)\s+<\.\.\. (\w+) resumed>(.*)$", ln)
        if m and m.group(1) in pending:
            out[pending.pop(m.group(1))][3] = split_result(m.group(3))[1]
    return out


def split_result(rest):
    """'ARGS) = RESULT' (strace pads before the '='): ARGS, RESULT."""
    ends = list(re.finditer(r"\)\s+= ", rest))
    if not ends:
        return rest, ""
    return rest[:ends[-1].start()], rest[ends[-1].end():]


def normal(text, root):
    """Arguments with the run's directory named and numbers (pids, times, fds) blanked."""
    return re.sub(r"\d+", "#", text.replace(root, "ROOT"))


def is_output(name, args):
    return name in ("write", "writev") and re.match(r"[12],", args) is not None


def strings(args):
    return [bytes(x, "utf-8").decode("unicode_escape") for x in
            re.findall(r'"((?:[^"\\]|\\.)*)"', args)]


def steps_of(trace, root):
    """The injectable steps of an untouched run's trace, with the files each one touches.

    Calls on files outside @p root (but for the mkdir of its parents) are left out: they are
    not the store's, but a sanitizer runtime's (ThreadSanitizer writes a file in /tmp).
    """
    steps, seen, threads = [], {}, []
    fds = {}  # descriptor -> path, from the open, dup and close calls of the trace
    for tid, name, args, result in calls_of(trace):
        if tid not in threads:
            threads.append(tid)
        seen[(tid, name)] = seen.get((tid, name), 0) + 1
        first = args.split(",")[0].strip()
        ret = result.split(" ")[0]
        paths = []
        for i, text in enumerate(strings(args) if name in PATH_CALLS | {"open"} else []):
            if not text.startswith("/"):
                # Relative to a directory descriptor (unlinkat(4, "active")) or to the cwd.
                m = re.match(r"(\d+),", args) if i == 0 else None
                text = os.path.join(fds.get(m.group(1), "") if m else os.getcwd(), text)
            paths.append(text)
        if first.isdigit() and not paths and first in fds:
            paths = [fds[first]]
        if name in ("open", "openat", "creat") and ret.isdigit() and paths:
            fds[ret] = paths[-1]
        elif name in ("dup", "dup2", "dup3") and ret.isdigit() and first in fds:
            fds[ret] = fds[first]
        elif name == "fcntl" and "F_DUPFD" in args and ret.isdigit() and first in fds:
            fds[ret] = fds[first]
        elif name == "close":
            fds.pop(first, None)
        if name not in CALL_SET:
            continue
        if name == "openat" and "O_CREAT" not in args and "O_TRUNC" not in args:
            continue
        paths = [os.path.normpath(p) for p in paths]
        if paths and not is_output(name, args) and not any(
                p == root or p.startswith(root + "/") or root.startswith(p + "/") for p in paths):
            continue
        steps.append({"name": name, "nth": seen[(tid, name)], "thread": threads.index(tid),
                      "args": args, "result": result, "output": is_output(name, args),
                      "paths": paths})
    # The number of calls of each name in the busiest thread: the run beyond the last step.
    last = {}
    for (tid, name), n in seen.items():
        if name in CALL_SET:
            last[name] = max(last.get(name, 0), n)
    return steps, last


def describe(step, root):
    args = step["args"].replace(root + "/", "")
    if len(args) > 70:
        args = args[:67] + "..."
    return "%s #%d (%s(%s) = %s)" % (step["name"], step["nth"], step["name"], args,
                                    step["result"] or "?")


# --- cases ------------------------------------------------------------------------------------


class Case:
    """One operation on one backend: its store, its command, what an untouched run does."""

    def __init__(self, backend, op, url, build, cmd, base, **kw):
        self.backend, self.op, self.url, self.build, self.cmd, self.base = (
            backend, op, url, build, cmd, base)
        self.write = kw.get("write", False)
        self.per_call = kw.get("per_call", 1)
        self.rotates = kw.get("rotates", False)
        self.name = "%s %s" % (backend, op)


def writer_cmd(mode):
    def cmd(url, qdir, n=N_RECORDS):
        if mode == "batch":
            return [WRITER, "batch", url, str(n)]
        return [WRITER, "store", url, str(n)]
    return cmd


def papyra_cmd(*args):
    def cmd(url, qdir, n=None):
        return [PAPYRA, "--persistence", url, *[a.format(q=qdir) for a in args]]
    return cmd


def seed_writes(kind, n):
    """A store written before, by the application itself: its data and metrics files exist."""
    def build(d, url):
        r = run([WRITER, "store", url, str(n), kind])
        if r.rc != 0:
            raise RuntimeError("cannot seed the store: " + r.err)
    return build


def damaged_json(d, url):
    write_lines(os.path.join(d, "data.jsonl"), 0, 6, [3], torn=True)
    run([WRITER, "counters", os.path.join(d, "data.jsonl.metrics"), "json"])


def damaged_json_runs(d, url):
    """Runs of lines long enough that compaction copies them with copy_file_range and sends
    the new file to disk piece by piece (sync_file_range)."""
    write_lines(os.path.join(d, "data.jsonl"), 0, 12000, [7000], torn=True)
    run([WRITER, "counters", os.path.join(d, "data.jsonl.metrics"), "json"])


def damaged_rotating(d, url):
    base = rotating_set(d, 3, 3, lambda n, i: i == 1 and n == 1, torn_active=True)
    hidden = os.path.join(os.path.dirname(base), "." + os.path.basename(base) + ".metrics")
    run([WRITER, "counters", hidden, "rotating"])
    run([PAPYRA, "--persistence", url, "persistence", "scan"])  # makes the lock file


def cases():
    out = []
    for backend, base in (("json", "data.jsonl"), ("rotating", "rot.log")):
        for mode in ("single", "batch"):
            for policy in ("never", "always", "everysec"):
                url = "%s:{d}/%s?fsync=%s" % (backend, base, policy)
                out.append(Case(backend, "write-%s fsync=%s" % (mode, policy), url,
                                seed_writes("dead_letter", 2),
                                writer_cmd("store" if mode == "single" else "batch"), base,
                                write=True, per_call=1 if mode == "single" else N_RECORDS))
        if backend == "rotating":
            # Two slots full and the active file one record short of max_bytes: the first write
            # fits, the second rotates (deleting the oldest file, renaming the others).
            url = "rotating:{d}/rot.log?max_bytes=300&max_files=3&fsync=always"
            out.append(Case(backend, "write-rotation fsync=always", url,
                            seed_writes("dead_letter", 5), writer_cmd("store"), base,
                            write=True, rotates=True))
            damaged = damaged_rotating
            url = "rotating:{d}/rot.log?max_bytes=600&max_files=4"
        else:
            damaged = damaged_json
            url = "json:{d}/data.jsonl"
        out.append(Case(backend, "compact max_records=3", url + ("&" if "?" in url else "?") +
                        "max_records=3", damaged, papyra_cmd("persistence", "compact"), base))
        if backend == "json":
            out.append(Case(backend, "compact runs max_records=7000", url + "?max_records=7000",
                            damaged_json_runs, papyra_cmd("persistence", "compact"), base))
        out.append(Case(backend, "recover repair", url, damaged,
                        papyra_cmd("persistence", "recover", "--mode", "repair"), base))
        out.append(Case(backend, "recover quarantine", url, damaged,
                        papyra_cmd("persistence", "recover", "--mode", "quarantine",
                                   "--quarantine-dir", "{q}"), base))
    return out


# --- one walk ---------------------------------------------------------------------------------


class Walk:
    def __init__(self, case, root):
        self.case, self.root = case, root
        self.template = os.path.join(root, "template")
        self.d = os.path.join(root, "run")  # every run happens here, so traces compare
        self.q = os.path.join(root, "quarantine")
        self.url = case.url.format(d=self.d)

    def fresh(self):
        shutil.rmtree(self.d, ignore_errors=True)
        shutil.rmtree(self.q, ignore_errors=True)
        shutil.copytree(self.template, self.d, symlinks=True)

    def command(self, n=N_RECORDS):
        return self.case.cmd(self.url, self.q, n)

    def prepare(self):
        """The template store, and what untouched runs do to it."""
        os.makedirs(self.d)
        self.case.build(self.d, self.url)
        shutil.copytree(self.d, self.template, symlinks=True)
        self.before, err = counters(self.url)
        if self.before is None:
            raise RuntimeError("no counters in the template: " + err)
        self.old = data_state(self.template)
        self.fresh()
        first = run(self.command(), ["-e", "trace=" + CALLS + ",open,close,dup,dup2,dup3,fcntl"],
                    os.path.join(self.root, "trace"))
        if first.rc != 0:
            raise RuntimeError("the untouched run failed (exit %s): %s" % (first.rc, first.err))
        self.steps, self.last = steps_of(first.trace, self.root)
        self.new = data_state(self.d)
        after, err = counters(self.url)
        self.ref_delta = delta(self.before, after)
        self.ref_q = sorted(os.listdir(self.q)) if os.path.isdir(self.q) else []
        if self.new == self.old:
            raise RuntimeError("the operation does not change the store: the walk proves nothing")
        if self.case.write:
            # The store after k acknowledged write calls, for every k.
            calls = -(-N_RECORDS // self.case.per_call)
            self.after_calls = {0: self.old, calls: self.new}
            for k in range(1, calls):
                self.fresh()
                r = run(self.command(k * self.case.per_call))
                if r.rc != 0:
                    raise RuntimeError("writing %d records failed: %s" % (k, r.err))
                self.after_calls[k] = data_state(self.d)
        else:
            self.final_rc = run(self.command()).rc
            self.final = data_state(self.d)
            self.damaged = set(self.old.values())  # what quarantine may copy
        if self.case.rotates and all(self.new.get(k, b"").startswith(v)
                                     for k, v in self.old.items()):
            raise RuntimeError("the write does not rotate: the walk proves nothing")

    # --- checks of one injected run

    def inject(self, step, error):
        args = ["-e", "trace=" + step["name"],
                "-e", "inject=%s:error=%s:when=%d" % (step["name"], error, step["nth"])]
        r = run(self.command(), args, os.path.join(self.root, "trace"))
        injected = [c for c in calls_of(r.trace) if "(INJECTED)" in c[3]]
        return r, injected

    def renumber(self, step):
        """@p step as a new untouched run numbers it, or None when that run has it alike."""
        self.fresh()
        again = run(self.command(), ["-e", "trace=" + CALLS + ",open,close,dup,dup2,dup3,fcntl"],
                    os.path.join(self.root, "trace"))
        if again.rc != 0:
            return None
        steps, _ = steps_of(again.trace, self.root)
        same = [s for s in steps if s["name"] == step["name"] and s["thread"] == step["thread"]
                and normal(s["args"], self.root) == normal(step["args"], self.root)]
        if not same or any(s["nth"] == step["nth"] for s in same):
            return None
        return min(same, key=lambda s: abs(s["nth"] - step["nth"]))

    def check(self, step, error):
        """The failures of one injection point (empty: it passed)."""
        # A step is "the Nth call of this kind"; where the order of such calls
        # is not fixed (threads, a slow sanitizer build), the Nth one may be a
        # different call in another run. Such a run proves nothing about this
        # step, so it is tried again, a few times, before it counts as a failure.
        # A sanitizer's runtime makes calls of its own now and then (ThreadSanitizer writes a
        # file in /tmp), which shift the count of the thread's calls: when an injection hits
        # nothing, the step is looked up again in a new untouched run, by its call and arguments.
        for _ in range(4):
            self.fresh()
            r, injected = self.inject(step, error)
            if r.rc is not None and not injected:
                renumbered = self.renumber(step)
                if renumbered is not None:
                    step = renumbered
                    continue
            if r.rc is None or len(injected) != 1 or \
                    normal(injected[0][2], self.root) == normal(step["args"], self.root):
                break
        problems = []
        if r.rc is None:
            return ["the process hung (killed after %d s)" % TIMEOUT]
        if len(injected) != 1:
            return ["the injection hit %d calls, not 1 (the run differs from the untouched one): "
                    "exit %s, %s" % (len(injected), r.rc, r.err.strip())]
        if normal(injected[0][2], self.root) != normal(step["args"], self.root):
            problems.append("the injection hit %s(%s), not the expected call" %
                            (injected[0][1], injected[0][2][:80]))
        lines = [ln for ln in r.err.splitlines() if ln.strip()]
        warnings = [ln for ln in lines if ": warning: " in ln]
        errors = [ln for ln in lines if ": warning: " not in ln]
        text = ERRORS[error]
        reported = r.rc != 0 or warnings
        if not reported:
            # An error nobody hears of: fine only if it changed nothing.
            later = [c for c in calls_of(r.trace)
                     if c[1] == step["name"] and normal(c[2], self.root) ==
                     normal(step["args"], self.root) and "(INJECTED)" not in c[3]]
            if step["result"].startswith("-1"):
                pass  # the call failed in the untouched run too (a mkdir of an existing dir)
            elif later:
                pass  # retried, and this time it went through
            else:
                problems.append("the error was not reported: exit 0, nothing on stderr, and the "
                                "call was not retried (it returned %s untouched)" % step["result"])
        if r.rc not in (0, 1):
            problems.append("exit %s, not the documented 1 (%s)" % (r.rc, r.err.strip()))
        if r.rc != 0:
            prefix = "cli-writer: " if self.case.write else "papyra: "
            if len(errors) != 1:
                problems.append("%d lines on stderr, not one: %r" % (len(errors), r.err))
            elif not errors[0].startswith(prefix):
                problems.append("the message does not start with %r: %r" % (prefix, errors[0]))
            elif text not in errors[0].lower():
                problems.append("the message does not name the error (%s): %r" % (text, errors[0]))
            elif step["output"]:
                if "output" not in errors[0]:
                    problems.append("a failed write to stdout is not reported as such: %r" %
                                    errors[0])
            elif not errors[0].startswith("cli-writer: close: "):
                problems += self.check_names(step, errors[0])
        if self.case.write:
            problems += self.check_write(step, r, errors, warnings)
        else:
            problems += self.check_rewrite(step, r, errors, warnings)
        if VERBOSE:
            print("  %s %s: exit %s %s%s" % (error, describe(step, self.d), r.rc,
                                            " | ".join(lines) or "(no message)",
                                            "  <- " + "; ".join(problems) if problems else ""))
        return problems

    def check_names(self, step, message):
        """The message names the store, or the file the failed call touched, and no other."""
        named = [os.path.normpath(p) for p in
                 re.findall(r"(?:%s|%s)[^\s':,()]*" % (re.escape(self.d), re.escape(self.q)),
                            message)]
        if not named:
            return ["the message does not name the file that failed: %r" % message]
        data = os.path.join(self.d, self.case.base)

        def store_file(p):  # the data file, or a file of the rotation set
            return p == data or (p.startswith(data + ".") and p[len(data) + 1:].isdigit())

        def related(a, b):
            return a == b or a.startswith(b + "/") or b.startswith(a + "/")
        wrong = [p for p in named if not store_file(p) and step["paths"] and
                 not any(related(p, q) for q in step["paths"])]
        if wrong:
            return ["the message names %s, but the call that failed was on %s: %r" % (
                ", ".join(os.path.relpath(p, self.root) for p in wrong),
                ", ".join(os.path.relpath(q, self.root) for q in step["paths"]), message)]
        return []

    def check_counters(self, expect):
        after, err = counters(self.url)
        if after is None:
            return ["cannot read the counters afterwards: " + err]
        got = delta(self.before, after)
        if got != expect:
            return ["counters moved by {%s}, expected {%s}" % (show_delta(got), show_delta(expect))]
        return []

    def settle(self):
        """Scan (settles a half-made rewrite); a torn tail must be repaired by recover."""
        scan = run([PAPYRA, "--persistence", self.url, "persistence", "scan"])
        return scan

    def check_write(self, step, r, errors, warnings):
        problems = []
        case = self.case
        calls = -(-N_RECORDS // case.per_call)
        err = errors[0] if errors else ""
        m = re.search(r"\(write call (\d+) of (\d+) failed; (\d+) records acknowledged\)", err)
        if r.rc == 0:
            acked_calls, failed = calls, 0
        elif err.startswith("cli-writer: write: ") and m:
            acked_calls, failed = int(m.group(1)) - 1, 1
            if int(m.group(3)) != acked_calls * case.per_call:
                problems.append("cli-writer's count is inconsistent: " + err)
        elif err.startswith("cli-writer: close: "):
            acked_calls, failed = calls, 0
        else:
            acked_calls, failed = 0, 0  # the store did not open: nothing was written
        acked = acked_calls * case.per_call
        expect = {k: 0 for k in COUNTERS}
        if not any("counters are private" in w for w in warnings):
            expect["records_written"] = acked
            expect["write_errors"] = failed
        problems += self.check_counters(expect)

        scan = self.settle()
        state = data_state(self.d)
        if scan.rc == 2:
            if "TRUNCATED_LINE" not in scan.out or "CORRUPTED_LINE" in scan.out or \
                    "ORPHANED" in scan.out or "PARTIAL_WRITE" in scan.out:
                problems.append("after the failed write, scan finds anomalies other than a torn "
                                "tail: " + " | ".join(scan.out.splitlines()))
            rec = run([PAPYRA, "--persistence", self.url, "persistence", "recover"])
            if rec.rc != 0:
                problems.append("recover does not clean the torn tail: exit %s %s" %
                                (rec.rc, rec.err.strip()))
            state = data_state(self.d)
        elif scan.rc != 0:
            problems.append("scan after the failed write: exit %s %s" % (scan.rc, scan.err.strip()))
        old = self.after_calls[acked_calls]
        want, got = records(old, case.base), records(state, case.base)
        sync_failed = failed and self.data_sync(step)
        if state == old or (scan.rc == 2 and got == want):
            pass
        elif sync_failed and scan.rc == 0 and self.after_failed_sync(got, acked_calls):
            pass  # the failed call's records, whole: written, only not known to be durable
        elif sync_failed:
            problems.append("after the failed sync of write call %d the store holds %d records: "
                            "not the %d acknowledged ones in order, followed at most by whole "
                            "records of the failed call, each once%s" % (
                                acked_calls + 1, len(got), acked,
                                "" if scan.rc == 0 else " (and scan exits %s)" % scan.rc))
        elif failed and acked_calls + 1 in self.after_calls and \
                got == records(self.after_calls[acked_calls + 1], case.base):
            problems.append("the store holds the records of write call %d, though the writer "
                            "was told it failed (%d records acknowledged before it)" %
                            (acked_calls + 1, acked))
        elif case.rotates and failed and self.partial_rotation(old, state, acked_calls):
            pass
        else:
            lost = [ln for ln in want if ln not in got]
            problems.append("the store holds neither the old nor the new data: %d records, %d "
                            "expected (%d acknowledged ones missing); files %s, expected %s" %
                            (len(got), len(want), len(lost), sorted(state), sorted(old)))
        # The store still takes writes, after everything acknowledged.
        w = run([WRITER, "store", self.url, "1", "audit"])
        after = records(data_state(self.d), case.base)
        if w.rc != 0:
            problems.append("the next writer fails: " + w.err.strip())
        elif not case.rotates and after[:len(got)] != got:
            problems.append("the next write changed the records before it")
        elif run([PAPYRA, "--persistence", self.url, "persistence", "scan"]).rc != 0:
            problems.append("the store is not clean after the next write")
        return problems

    def data_sync(self, step):
        """Whether the step is an fsync or fdatasync of the data file (not of a directory)."""
        return step["name"] in ("fsync", "fdatasync") and \
            step["paths"] == [os.path.join(self.d, self.case.base)]

    def after_failed_sync(self, got, acked_calls):
        """After a failed sync of the data file in write call acked_calls + 1: every acknowledged
        record in order (less what a rotation of that call dropped before it synced), then only
        whole records of the failed call, each at most once."""
        base = records(self.after_calls[acked_calls], self.case.base)
        full = records(self.after_calls[acked_calls + 1], self.case.base)
        own = [ln for ln in full if ln not in base]  # the failed call's records
        bases = [base]
        if self.case.rotates:
            bases.append([ln for ln in base if ln in full])
        for b in bases:
            rest = got[len(b):]
            if got[:len(b)] == b and len(set(rest)) == len(rest) and all(ln in own for ln in rest):
                return True
        return False

    def partial_rotation(self, old, state, acked_calls):
        """A rotation that failed half-way: whole files moved, at most the oldest one gone."""
        new = self.after_calls.get(acked_calls + 1, self.new)
        dropped = [ln for ln in records(old, self.case.base)
                   if ln not in records(new, self.case.base)]
        kept = [ln for ln in records(old, self.case.base) if ln not in dropped]
        contents = set(old.values()) | {b""}
        return all(v in contents for v in state.values()) and \
            records(state, self.case.base) in (records(old, self.case.base), kept)

    def check_rewrite(self, step, r, errors, warnings):
        problems = []
        compact = "compact" in self.case.op
        op_failed = r.rc != 0 and not step["output"]
        must = None  # the state the failure's stage leaves: "old", "new", or either
        zero = {k: 0 for k in COUNTERS}
        if any("counters are private" in w for w in warnings):
            problems += self.check_counters(zero)
        elif op_failed and errors and "cannot create quarantine directory" in errors[0]:
            # The CLI makes --quarantine-dir before it calls recover: nothing was attempted.
            problems += self.check_counters(zero)
            must = "old"
        elif op_failed and compact:
            problems += self.check_counters(dict(zero, compactions_triggered=1,
                                                 compaction_errors=1))
        elif op_failed:
            # A failed recovery counts the scans it ran and what the first one found: it failed
            # in the first scan, in the repair, or in the verifying scan after the repair.
            fail = dict(zero, recovery_attempts=1, recovery_failures=1)
            found = self.ref_delta["anomaly_detected"]
            stages = [(dict(fail, scan_operations=1), "old"),
                      (dict(fail, scan_operations=1, anomaly_detected=found), None),
                      (dict(fail, scan_operations=2, anomaly_detected=found), "new")]
            after, err = counters(self.url)
            got = delta(self.before, after) if after else None
            for expect, state in stages:
                if got == expect:
                    must = state
                    break
            else:
                problems.append("counters moved by {%s}, expected one of %s" % (
                    show_delta(got) if got else err,
                    " or ".join("{%s}" % show_delta(e) for e, _ in stages)))
        else:
            problems += self.check_counters(dict(self.ref_delta))
            must = "new"
        self.settle()
        state = data_state(self.d)
        stage = [n for n in os.listdir(self.d) if n.endswith(".rebuild")]
        if stage:
            problems.append("a staging directory is left after the next open: %s" % stage)
        if state == self.new:
            if must == "old":
                problems.append("the store holds the new data, though the failure came before "
                                "the rewrite")
        elif state == self.old:
            if must == "new":
                problems.append("the store holds the old data, though the %s" % (
                    "operation reported success" if not op_failed else
                    "recovery failed only in its verifying scan"))
        else:
            extra = sorted(set(state) - set(self.old) - set(self.new))
            problems.append("the data is neither the old nor the new state: files %s%s" %
                            (sorted(state), "; left behind: %s" % extra if extra else ""))
        if os.path.isdir(self.q):
            qfiles = sorted(os.listdir(self.q))
            bad = []
            for name in qfiles:
                with open(os.path.join(self.q, name), "rb") as f:
                    if f.read() not in self.damaged:
                        bad.append(name)
            if bad:
                problems.append("the quarantine directory holds files that are not whole copies "
                                "of the damaged data: %s" % bad)
            if not op_failed and len(qfiles) != len(self.ref_q):
                problems.append("quarantine kept %d files, an untouched run %d" %
                                (len(qfiles), len(self.ref_q)))
        again = run(self.command())
        if again.rc != self.final_rc or data_state(self.d) != self.final:
            problems.append("run again, the operation does not reach the uninterrupted result "
                            "(exit %s): %s" % (again.rc, again.err.strip()))
        return problems

    def beyond(self, error):
        """N = last + 1: the run that the injection no longer touches completes as untouched."""
        args = ["-e", "trace=" + CALLS]
        for name, n in sorted(self.last.items()):
            args += ["-e", "inject=%s:error=%s:when=%d" % (name, error, n + 1)]
        self.fresh()
        r = run(self.command(), args, os.path.join(self.root, "trace"))
        hit = [c for c in calls_of(r.trace) if "(INJECTED)" in c[3]]
        if hit or r.rc != 0 or data_state(self.d) != self.new:
            return ["after the last step the run is still touched: exit %s, %s%s" % (
                r.rc, r.err.strip(), "; injected into " + ", ".join(
                    "%s(%s)" % (c[1], c[2][:40]) for c in hit) if hit else "")]
        return []


def walk(w, error):
    """Injects @p error at every step of the walk's case; returns (steps walked, failures)."""
    case = w.case
    failures = ["%s %s: %s" % (case.name, error, p) for p in w.beyond(error)]
    for i, step in enumerate(w.steps, 1):
        for p in w.check(step, error):
            failures.append("%s %s: step %d of %d, %s%s: %s" % (
                case.name, error, i, len(w.steps), describe(step, w.d),
                " [stdout]" if step["output"] else "", p))
    return len(w.steps), failures


def main():
    missing = strace_missing()
    if missing is not None:
        return missing
    only = os.environ.get("PAPYRA_TEST_IO_FAULTS_ONLY", "")
    started = time.monotonic()
    walks = passed = points = failed_points = 0
    per_backend = {}
    all_failures = []
    for case in cases():
        if only not in case.name:
            continue
        with tempfile.TemporaryDirectory(prefix="papyra-io-faults-") as root:
            w = Walk(case, root)
            try:
                w.prepare()
            except RuntimeError as e:
                for error in ERRORS:
                    walks += 1
                    all_failures.append("%s %s: %s" % (case.name, error, e))
                    print("FAIL %s %s: %s" % (case.name, error, e))
                continue
            for error in ERRORS:
                walks += 1
                t0 = time.monotonic()
                n, failures = walk(w, error)
                points += n
                per_backend[case.backend] = per_backend.get(case.backend, 0) + n
                bad = len({f.split(": step ")[1].split(",")[0] if ": step " in f else f
                           for f in failures})
                failed_points += bad
                if not failures:
                    passed += 1
                print("%s %s %s: %d injection points%s (%.1fs)" % (
                    "ok  " if not failures else "FAIL", case.name, error, n,
                    ", %d failed" % bad if bad else "", time.monotonic() - t0), flush=True)
                all_failures += failures
    for f in all_failures:
        print("FAIL " + f)
    print("injection points: %d in all (%s), %d failed; %.0fs" % (
        points, ", ".join("%s %d" % kv for kv in per_backend.items()), failed_points,
        time.monotonic() - started))
    print("%d passed, %d failed" % (passed, walks - passed))
    return 0 if passed == walks else 1


if __name__ == "__main__":
    sys.exit(main())
