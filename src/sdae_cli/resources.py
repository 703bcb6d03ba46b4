"""Memory: what a job will need, what it may take, and a one-line refusal when it cannot fit.

Every command estimates its peak before its first big allocation, so that a mistyped layer size
or a job sized for a bigger server gets a sentence naming the option to change instead of a
MemoryError deep in NumPy, or the OOM killer, an hour into a run. The estimates count every array
the size of the data, of the parameters or of a batch's activations, and leave out small change:
honest, not exact.
"""
from __future__ import annotations

import os

from .errors import ResourceError

FLOAT = 4  # bytes: everything the core touches is float32
UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63
# Address space a compute thread takes once started: its stack and its malloc arena (glibc
# reserves 64 MiB a thread). Under `ulimit -v` or `-d` that counts like memory: two threads of a
# 2-core run added 116 MB to VmSize, and a job estimated within them of the limit failed.
THREAD_RESERVE = 72 << 20


# ------------------------------------------------------------------ what is available

def available_memory(proc: str = "/proc") -> tuple[int | None, str]:
    """(bytes, what limits them): the least of MemAvailable, the room left under the process's
    RLIMIT_AS and RLIMIT_DATA, and the room left under its cgroup's memory limit. (None, "") where
    none of these can be read."""
    limits = []
    meminfo = _fields(os.path.join(proc, "meminfo"))
    if "MemAvailable" in meminfo:
        limits.append((meminfo["MemAvailable"], "MemAvailable"))
    status = _fields(os.path.join(proc, "self", "status"))
    try:
        import resource
    except ImportError:  # not a Unix
        resource = None
    if resource is not None:
        for which, used, name in ((resource.RLIMIT_AS, "VmSize", "ulimit -v"),
                                  (resource.RLIMIT_DATA, "VmData", "ulimit -d")):
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY:  # the limit counts what the process has mapped already
                room = soft - status.get(used, 0) - THREAD_RESERVE * threads_of(0)
                limits.append((max(0, room), f"the process's limit, {name}"))
    room = cgroup_room(proc)
    if room is not None:
        limits.append(room)
    if not limits:
        return None, ""
    return min(limits)


def _fields(path: str) -> dict[str, int]:
    """'Name:   123 kB' lines (/proc/meminfo, /proc/self/status) as bytes."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(":")
                parts = value.split()
                if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                    out[name] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def _read_number(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (cgroup v2): no limit


def _stat_field(path: str, name: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == name and value.strip().isdigit():
                    return int(value)
    except OSError:
        pass
    return 0


def cgroup_room(proc: str = "/proc") -> tuple[int, str] | None:
    """Room under the memory limit of this process's cgroup, or of any cgroup above it (v2
    memory.max, v1 memory.limit_in_bytes), less what the cgroup uses already. Inactive page cache
    counts as free, as the kernel reclaims it before it fails an allocation."""
    try:
        with open(os.path.join(proc, "self", "cgroup")) as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
        with open(os.path.join(proc, "self", "mountinfo")) as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    best = None
    for _, controllers, path in groups:
        v2 = controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        files = ("memory.max", "memory.current", "inactive_file") if v2 else \
            ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        for folder in _cgroup_folders(mounts, path, v2):
            limit = _read_number(os.path.join(folder, files[0]))
            if limit is None or limit >= UNLIMITED:
                continue
            used = _read_number(os.path.join(folder, files[1])) or 0
            used -= min(used, _stat_field(os.path.join(folder, "memory.stat"), files[2]))
            room = (max(0, limit - used), f"the cgroup's memory limit, {os.path.join(folder, files[0])}")
            best = room if best is None or room < best else best
    return best


def _cgroup_folders(mounts: list[list[str]], path: str, v2: bool) -> list[str]:
    """The folders of the cgroup at `path` and of those above it, up to the mount point of its
    hierarchy (cgroup2, or the v1 hierarchy that has the memory controller)."""
    for fields in mounts:
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if len(fields) < dash + 3 or len(fields) < 5:
            continue
        fstype, options = fields[dash + 1], fields[dash + 3] if len(fields) > dash + 3 else ""
        if (fstype != "cgroup2") if v2 else (fstype != "cgroup" or "memory" not in options.split(",")):
            continue
        root, mount_point = fields[3], fields[4]
        relative = path[len(root):] if path.startswith(root) else path  # inside a cgroup namespace
        folder = os.path.normpath(os.path.join(mount_point, relative.lstrip("/")))
        if not os.path.isdir(folder):
            folder = mount_point  # the namespace's own root
        out = [folder]
        while folder != mount_point and folder.startswith(mount_point):
            folder = os.path.dirname(folder)
            out.append(folder)
        return out
    return []


# ------------------------------------------------------------------ refusing

def describe(n_bytes: float) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{max(n_bytes, 0) / 1024:.1f} KiB"


def require(job: str, parts: list[tuple[str, int, str]]) -> None:
    """Refuses `job` ("pretrain", "encode"...) when its parts [(what, bytes, the change that
    makes it smaller)] add up to more than available_memory(); the message names the biggest
    part and its remedy."""
    needed = sum(size for _, size, _ in parts)
    available, limit = available_memory()
    if available is None or needed <= available:
        return
    what, size, hint = max(parts, key=lambda part: part[1])
    raise ResourceError(f"{job} needs about {describe(needed)} ({what}: {describe(size)}) but {describe(available)} "
                        f"is available ({limit}); {hint}")


def out_of_memory(job: str, detail: str, hint: str) -> ResourceError:
    """The message for an allocation that failed even so (another process took the memory, or
    an estimate fell short)."""
    available, limit = available_memory()
    now = f"; {describe(available)} is available ({limit})" if available is not None else ""
    return ResourceError(f"{job} ran out of memory ({detail}){now}; {hint}")


# ------------------------------------------------------------------ what jobs need

def threads_of(threads: int) -> int:
    """The thread count the core will use (threads <= 0: every core the process may run on)."""
    if threads > 0:
        return threads
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def held_out(rows: int, valid_split: float) -> int:
    return int(round(rows * valid_split))


def layer_size(n_in: int, n_hidden: int, tied: bool) -> int:
    """Floats in one dA layer's theta: W, b, c and, untied, Wd."""
    return n_in * n_hidden + n_hidden + n_in + (0 if tied else n_hidden * n_in)


def copies(optimizer: str) -> int:
    """Copies of theta a training epoch holds: theta, its snapshot (to undo an interrupted or
    diverging epoch), and for momentum and adam the velocity m (and its snapshot) and the
    gradient, for adam also v (and its snapshot)."""
    return {"sgd": 2, "momentum": 5, "adam": 7}.get(optimizer, 7)


def peak(*phases: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    """The phase of a job (its parts) that needs the most at once."""
    return max(phases, key=lambda parts: sum(size for _, size, _ in parts))


def scaling_phase(rows: int, cols: int, scaled: bool, what: str) -> list[tuple[str, int, str]]:
    """Scaling makes a float32 copy through float64 intermediates (two at once, at worst)."""
    per_value = FLOAT + (16 if scaled else 0)
    return [(f"{what}, {rows}x{cols}, scaled", rows * cols * per_value, "train on fewer rows (or columns)")]


def data_part(rows: int, cols: int, valid_split: float, what: str) -> tuple[str, int, str]:
    """The data as training holds it: a float32 copy (scaled, or the data itself) and the
    training/validation split of it."""
    split = rows * cols * FLOAT if held_out(rows, valid_split) else 0
    return (f"{what}, {rows}x{cols}, and its training/validation split", rows * cols * FLOAT + split,
            "train on fewer rows (or columns)")


def pretrain_parts(shape: tuple, config, scaled: bool) -> list[tuple[str, int, str]]:
    """The peak of pretraining on data of `shape`: scaling the data, or training the layer that
    needs the most: its parameters and optimizer state, the layers below it, the core's
    workspaces for a batch, and the codes it reads and writes (each layer learns on the codes of
    the one below), beside the data."""
    if len(shape) != 2:
        return []  # the data's own checks say what is wrong
    rows, cols = shape
    n_valid = held_out(rows, config.valid_split)
    n_train = rows - n_valid
    batch = max(1, min(int(config.batch_size), max(n_train, 1)))
    threads = threads_of(config.threads)
    below, worst = 0, []
    widths = [cols] + [int(h) for h in config.layers]
    for k, (n_in, n_hidden) in enumerate(zip(widths, widths[1:])):
        theta = layer_size(n_in, n_hidden, config.tied)
        extra = 1 if config.batch_size == 1 and config.optimizer == "sgd" and config.tied else 0  # batch-1 copy of W
        step = batch * (n_in * (6 + threads) + 2 * n_hidden)  # clean and corrupted rows, activations, shares
        valid_step = min(n_valid, 1024) * (n_in * (3 + threads) + 2 * n_hidden)  # not at the same time
        codes_in = rows * n_in if k else 0
        codes_out = rows * n_hidden if k + 2 < len(widths) else 0
        parts = [
            (f"layer {k + 1}, {n_in}x{n_hidden}: weights, optimizer state and their copies",
             theta * (copies(config.optimizer) + extra) * FLOAT, "lower --layers"),
            (f"layer {k + 1}'s workspaces for {batch}-row batches", max(step, valid_step) * FLOAT + n_train * 8,
             "lower --batch-size (or --layers)"),
            (f"the codes layer {k + 1} reads and writes", (codes_in + codes_out) * FLOAT, "lower --layers"),
            (f"layers 1 to {k}", below * FLOAT, "lower --layers"),
        ]
        worst = peak(worst, parts)
        below += theta
    return peak(scaling_phase(rows, cols, scaled, "the data"),
                [data_part(rows, cols, config.valid_split, "the data")] + worst)


def finetune_parts(shape: tuple, sizes: list[int], n_out: int | None, config, scaled: bool,
                   paired: bool) -> list[tuple[str, int, str]]:
    """The peak of fine-tuning the stack `sizes` (input first) on data of `shape`: with n_out
    classes on a softmax, or (n_out None) unrolled to reconstruct. It holds the chain's parameters
    several times over (the tuned copy, theta, the best epoch's, the optimizer state and each
    epoch's snapshot), the targets (one-hot rows, or the clean rows), the data and the workspaces
    of a batch."""
    if len(shape) != 2:
        return []
    rows, cols = shape
    if n_out is not None:
        dims = list(zip(sizes, sizes[1:])) + [(sizes[-1], n_out)]
        targets = rows * n_out + n_out * n_out  # one-hot rows, picked from an identity matrix
    else:
        dims = list(zip(sizes, sizes[1:])) + list(zip(sizes[:0:-1], sizes[-2::-1]))
        targets = 2 * rows * cols if paired else 0  # the clean rows, scaled, and their split
    params = sum(n_in * n_hidden + n_hidden for n_in, n_hidden in dims)
    held = {"sgd": 5, "momentum": 8, "adam": 10}.get(config.optimizer, 10)
    n_valid = held_out(rows, config.valid_split)
    batch = max(1, min(int(config.batch_size), rows))
    widths = sum(n for _, n in dims) + dims[0][0]
    widest = max(n for _, n in dims)
    step = batch * (widths + dims[-1][1] + 2 * widest)  # every layer's activations, targets, deltas
    valid = min(max(n_valid, 1), 4096) * (widths + 2 * widest) + n_valid * (cols + (n_out or 0))
    forward = threads_of(config.threads) * 2 * 512 * max((n for _, n in dims[:-1]), default=0)  # panels
    chain = "-".join(map(str, sizes + ([n_out] if n_out else sizes[-2::-1])))
    return peak(scaling_phase(rows, cols, scaled, "the data"), [
        data_part(rows, cols, config.valid_split, "the data"),
        (f"the {chain} chain: weights, optimizer state and their copies", params * held * FLOAT,
         "fine-tune a smaller model"),
        ("the targets" + (f", one column per class ({n_out})" if n_out else ", the clean rows"), targets * FLOAT,
         "use fewer rows" + (" or classes (are these labels, or values to regress?)" if n_out else "")),
        (f"workspaces for {batch}-row batches and validation", (step + valid + forward) * FLOAT,
         "lower --batch-size"),
    ])


# Formatting a block of text output (writing.py's VALUES_PER_BLOCK values: its text and the
# threads' parts of it), and what waits for the disk (direct_file.py: QUEUED blocks and a buffer).
TEXT_OUTPUT = 96 << 20


def inference_parts(kind: str, chain: list[int], rows: int, scaled: bool, threads: int,
                    chunk_rows: int) -> list[tuple[str, int, str]]:
    """A chunked pass through the chain of widths `chain` (input first; kind: encode, denoise,
    predict, score): the parameters copied for the core, a chunk of rows in and out (with
    scaling's float64 intermediates), each thread's row panels, the writer's text blocks, and
    for predict the probabilities of every row."""
    dims = list(zip(chain, chain[1:]))
    params = sum(n_in * n_out + n_out for n_in, n_out in dims)
    chunk = min(rows, chunk_rows)
    chunk_in = chunk * chain[0] * (1 + (4 if scaled else 0))
    chunk_out = chunk * chain[-1] * (1 + (4 if scaled and kind in ("denoise", "score") else 0))
    panels = threads_of(threads) * 2 * 512 * max(chain[1:-1], default=0)  # the layers between, 512 rows
    everything = 2 * rows * chain[-1] if kind == "predict" else 0
    return [
        (f"the {'-'.join(map(str, chain))} chain's parameters", params * FLOAT, "use a smaller model"),
        (f"{chunk}-row chunks in and out", (chunk_in + chunk_out) * FLOAT + TEXT_OUTPUT, "use a smaller model"),
        ("the threads' row panels", panels * FLOAT, "lower --threads"),
        ("the probabilities of every row", everything * FLOAT, "predict fewer rows at a time"),
    ]
