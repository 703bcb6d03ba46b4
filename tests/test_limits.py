"""Jobs that cannot be: size lists with holes, signs or absurd sizes, and jobs bigger than the
memory the machine or the process's limits leave. Each gets one line, the right exit code, no
traceback and no file. (Errors coming up from below the CLI: test_errors_from_below.py.)"""
import numpy as np
import pytest
from cli_runs import listing, run

from sdae_cli import resources
from sdae_cli.errors import ResourceError

# ---------------------------------------------------------------- size lists

@pytest.mark.parametrize("layers, message", [
    ("20,,5", "'20,,5' has an empty item; separate the values with single commas"),
    ("20,5,", "'20,5,' has an empty item"),
    (",5", "',5' has an empty item"),
    ("", "nothing given; give one value or a comma-separated list"),
    ("+5", "'+5' is not a whole number (digits only, no sign)"),
    ("-5", "'-5' is not a whole number (digits only, no sign)"),
    ("5,-5", "'-5' is not a whole number"),
    ("1_000", "'1_000' is not a whole number"),
    ("1e3", "'1e3' is not a whole number"),
    ("0", "a layer needs at least 1 unit, got 0"),
    ("2000000000", "2000000000 units in one layer is more than sdae takes (10,000,000); is there a digit too many?"),
    ("10000001", "10000001 units in one layer is more than sdae takes"),
])
def test_layer_lists_refuse_holes_signs_and_absurd_sizes(folder, layers, message):
    line = run(["pretrain", "s.npy", "--layers", layers, "--epochs", "1"], 2)
    assert line == f"Error: Invalid value for '--layers': {message}" or line.startswith(
        f"Error: Invalid value for '--layers': {message}")
    assert listing(folder) == ["s.npy"]


@pytest.mark.parametrize("option, value, message", [
    ("--noise", "0.1,,0.2", "'0.1,,0.2' has an empty item"),
    ("--noise", "abc", "'abc' is not a number"),
    ("--noise-type", "masking,", "'masking,' has an empty item"),
    ("--activation", "sigmoid,,tanh", "'sigmoid,,tanh' has an empty item"),
    ("--activation", "soft", "'soft' is not one of sigmoid, tanh, relu"),
])
def test_other_lists_refuse_empty_items(folder, option, value, message):
    line = run(["pretrain", "s.npy", "--layers", "4,3", option, value, "--epochs", "1"], 2)
    assert line.startswith(f"Error: Invalid value for '{option}': {message}")
    assert listing(folder) == ["s.npy"]


@pytest.mark.parametrize("command", [["pretrain", "s.npy", "--layers", "3"], ["encode", "-m", "m.npz", "s.npy"],
                                     ["demo"]])
@pytest.mark.parametrize("threads", ["100000", "-1"])
def test_thread_counts_are_refused_beyond_1024_and_below_0(folder, command, threads):
    """The core would start that many OS threads for a large enough loop."""
    line = run([*command, "--threads", threads], 2)
    assert line == f"Error: Invalid value for '--threads': {threads} is not in the range 0<=x<=1024."
    assert listing(folder) == ["s.npy"]


def test_spaces_around_items_are_fine(folder):
    run(["pretrain", "s.npy", "--layers", " 4, 3 ", "--epochs", "1", "-q", "-o", "m.npz"], 0)
    assert listing(folder) == ["m.npz", "s.npy"]


def test_values_beyond_float32_are_refused(folder):
    """sdae computes in float32: float64 data beyond its range would become infinities."""
    X = np.random.default_rng(0).random((30, 20))
    X[3, 4], X[5, 5] = 1e300, -1e39
    np.save(folder / "huge.npy", X)
    for command in (["pretrain", "huge.npy", "--layers", "3"], ["pretrain", "huge.npy", "--layers", "3", "--scale",
                                                                "minmax"]):
        assert run(command, 1) == ("Error: huge.npy: 2 values beyond float32's range (±3.4e38), the first at row 4, "
                                   "column 5; sdae computes in float32: rescale them first")
    np.save(folder / "tiny.npy", np.random.default_rng(0).random((30, 20)) * 1e-30)
    np.save(folder / "far.npy", np.full((30, 20), 1e37))
    run(["pretrain", "tiny.npy", "--layers", "3", "--scale", "minmax", "--epochs", "1", "-q", "-o", "m.npz"], 0)
    assert run(["encode", "-m", "m.npz", "far.npy", "-o", "codes.npy"], 1) == (
        "Error: far.npy: values scale beyond float32's range (the model's minmax scaling was fitted on far smaller "
        "values)")
    assert listing(folder) == ["far.npy", "huge.npy", "m.npz", "s.npy", "tiny.npy"]


# ---------------------------------------------------------------- what is available

def fake_proc(tmp_path, meminfo_kib=8 << 20, cgroup="0::/job/worker\n", mounts=None):
    """A /proc with MemAvailable, VmSize/VmData, and the process in cgroup `cgroup`."""
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal:       {2 * meminfo_kib} kB\nMemAvailable:   {meminfo_kib} kB\n")
    (proc / "self" / "status").write_text("Name:\tpython\nVmSize:\t  102400 kB\nVmData:\t   51200 kB\n")
    (proc / "self" / "cgroup").write_text(cgroup)
    cg = tmp_path / "cg"
    mounts = mounts or [f"31 23 0:28 / {tmp_path} rw,relatime - tmpfs tmpfs rw",
                        f"41 31 0:38 / {cg} rw,relatime - cgroup2 cgroup2 rw"]
    (proc / "self" / "mountinfo").write_text("\n".join(mounts) + "\n")
    return str(proc), cg


@pytest.fixture
def no_rlimits(monkeypatch):
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def test_memavailable_when_nothing_else_limits(tmp_path, no_rlimits):
    proc, _ = fake_proc(tmp_path, meminfo_kib=3 << 20)
    assert resources.available_memory(proc) == (3 << 30, "MemAvailable")


def test_a_cgroup_v2_limit_above_the_process_counts_less_its_usage(tmp_path, no_rlimits):
    proc, cg = fake_proc(tmp_path)
    (cg / "job" / "worker").mkdir(parents=True)
    (cg / "job" / "worker" / "memory.max").write_text("max\n")
    (cg / "job" / "memory.max").write_text(f"{512 << 20}\n")
    (cg / "job" / "memory.current").write_text(f"{100 << 20}\n")
    (cg / "job" / "memory.stat").write_text(f"anon 1000\ninactive_file {20 << 20}\n")
    (cg / "memory.max").write_text("max\n")
    assert resources.available_memory(proc) == (432 << 20, f"the cgroup's memory limit, {cg}/job/memory.max")


def test_a_cgroup_v1_limit_where_the_namespace_hides_the_path(tmp_path, no_rlimits):
    """Inside a container the process's cgroup path need not exist under the mount: the mount's
    own folder is the cgroup. v1 writes "no limit" as a number near 2**63."""
    mounts = [f"35 31 0:32 / {tmp_path}/memory rw,relatime - cgroup cgroup rw,memory",
              f"32 31 0:29 / {tmp_path}/cpu rw,relatime - cgroup cgroup rw,cpu"]
    proc, _ = fake_proc(tmp_path, cgroup="4:memory:/process_api/abc\n1:cpu:/\n", mounts=mounts)
    memory = tmp_path / "memory"
    memory.mkdir()
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert resources.available_memory(proc) == (8 << 30, "MemAvailable")
    (memory / "memory.limit_in_bytes").write_text(f"{1 << 30}\n")
    (memory / "memory.usage_in_bytes").write_text(f"{256 << 20}\n")
    assert resources.available_memory(proc) == (768 << 20, f"the cgroup's memory limit, {memory}/memory.limit_in_bytes")


def test_an_address_space_limit_counts_what_is_mapped_already(tmp_path, monkeypatch):
    import resource

    proc, _ = fake_proc(tmp_path)
    limits = {resource.RLIMIT_AS: (600 << 20), resource.RLIMIT_DATA: resource.RLIM_INFINITY}
    monkeypatch.setattr(resource, "getrlimit", lambda which: (limits.get(which, resource.RLIM_INFINITY),) * 2)
    monkeypatch.setattr(resources, "threads_of", lambda threads: 2)  # each takes 72 MiB of address space
    # VmSize 100 MiB, VmData 50 MiB
    assert resources.available_memory(proc) == (600 - 100 - 144 << 20, "the process's limit, ulimit -v")
    limits[resource.RLIMIT_DATA] = 300 << 20
    assert resources.available_memory(proc) == (300 - 50 - 144 << 20, "the process's limit, ulimit -d")


def test_nothing_readable_means_no_refusal(tmp_path, no_rlimits, monkeypatch):
    assert resources.available_memory(str(tmp_path / "nowhere")) == (None, "")
    monkeypatch.setattr(resources, "available_memory", lambda: (None, ""))
    resources.require("pretrain", [("everything", 1 << 60, "give up")])


def test_the_refusal_names_the_biggest_part_and_its_remedy(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: (int(22.8 * (1 << 30)), "MemAvailable"))
    with pytest.raises(ResourceError) as caught:
        resources.require("pretrain", [("the data", 1 << 20, "use fewer rows"),
                                       ("layer 1, 784x2000000000: weights", 156 << 30, "lower --layers")])
    assert str(caught.value) == ("pretrain needs about 156.0 GiB (layer 1, 784x2000000000: weights: 156.0 GiB) but "
                                 "22.8 GiB is available (MemAvailable); lower --layers")


# ---------------------------------------------------------------- refusing jobs that cannot fit

@pytest.fixture
def one_gib(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: (1 << 30, "MemAvailable"))


def test_a_huge_layer_is_refused_before_anything_is_allocated(folder, one_gib):
    line = run(["pretrain", "s.npy", "--layers", "9000000", "--epochs", "1"], 1)
    assert line.startswith("Error: pretrain needs about 3.6 GiB (layer 1's workspaces for 32-row batches: 2.1 GiB) "
                           "but 1.0 GiB is available (MemAvailable); lower --batch-size (or --layers)"), line
    line = run(["pretrain", "s.npy", "--layers", "1000,1000000,2000", "--epochs", "1", "--batch-size", "4"], 1)
    assert line.endswith("(layer 3, 1000000x2000: weights, optimizer state and their copies: 14.9 GiB) "
                         "but 1.0 GiB is available (MemAvailable); lower --layers"), line
    assert listing(folder) == ["s.npy"]


def test_a_normal_job_is_not_refused(folder):
    """With what the machine really has: a small job needs a few MB, and runs."""
    from sdae_cli import PretrainConfig

    parts = resources.pretrain_parts((200, 20), PretrainConfig(layers=[16, 8], optimizer="adam"), True)
    assert 0 < sum(size for _, size, _ in parts) < 8 << 20
    run(["pretrain", "s.npy", "--layers", "16,8", "--epochs", "1", "-q", "-o", "m.npz"], 0)
    assert listing(folder) == ["m.npz", "s.npy"]


def test_finetune_refuses_a_label_per_row_of_a_big_file(model, monkeypatch):
    """Row ids given as labels make one class per row: the one-hot targets grow as rows squared."""
    monkeypatch.setattr(resources, "available_memory", lambda: (100 << 10, "MemAvailable"))
    np.save(model / "ids.npy", np.arange(200))
    line = run(["finetune", "-m", "m.npz", "s.npy", "--labels", "ids.npy", "-o", "t.npz"], 1)
    assert line.startswith("Error: finetune needs about "), line
    assert line.endswith("(the targets, one column per class (200): 312.5 KiB) but 100.0 KiB is available "
                         "(MemAvailable); use fewer rows or classes (are these labels, or values to regress?)"), line
    line = run(["finetune", "-m", "m.npz", "s.npy", "--target", "reconstruct", "-o", "t.npz"], 1)
    assert line.startswith("Error: finetune needs about ") and "is available (MemAvailable); " in line
    assert listing(model) == ["ids.npy", "m.npz", "s.npy", "y.npy"]


@pytest.mark.parametrize("command", [["encode"], ["denoise"], ["score"]])
def test_inference_refuses_before_its_first_chunk(model, monkeypatch, command):
    monkeypatch.setattr(resources, "available_memory", lambda: (1 << 20, "the process's limit, ulimit -v"))
    line = run([*command, "-m", "m.npz", "s.npy", "-o", "out.npy"], 1)
    # The text output's blocks dominate (tiny model and data), so the estimate is about them.
    assert line.startswith(f"Error: {command[0]} needs about {resources.TEXT_OUTPUT >> 20}."), line
    assert line.endswith("but 1.0 MiB is available (the process's limit, ulimit -v); use a smaller model"), line
    assert listing(model) == ["m.npz", "s.npy", "y.npy"]


def test_predict_counts_every_row_s_probabilities(model):
    parts = dict((what, size) for what, size, _ in resources.inference_parts("predict", [20, 8, 4, 3], 10**8, True,
                                                                            1, 8192))
    assert parts["the probabilities of every row"] == 2 * 10**8 * 3 * 4


def test_an_rlimit_refuses_the_job_in_a_real_process(folder):
    """`ulimit -v` as a user would set it: the job is refused in one line, and the process ends
    normally."""
    import resource
    import subprocess
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1500 << 20, resource.getrlimit(resource.RLIMIT_AS)[1]))

    done = subprocess.run([sys.executable, "-c", "from sdae_cli.cli import main; main()", "pretrain", "s.npy",
                           "--layers", "5000000", "--threads", "1"],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: pretrain needs about ") and done.stderr.count("\n") == 1, done.stderr
    assert "is available (the process's limit, ulimit -v); lower --batch-size (or --layers)" in done.stderr
    assert listing(folder) == ["s.npy"]
