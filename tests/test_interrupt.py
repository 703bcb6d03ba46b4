"""Interrupted runs: Ctrl-C (SIGINT) and SIGTERM stop cleanly with a checkpoint, kill -9 loses at
most the current epoch, and --resume ends with the model of an uninterrupted run, bit for bit."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

SDAE = [sys.executable, "-c", "from sdae_cli.cli import main; main()"]


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


# The general minibatch path, and batch 1 with plain SGD (the core's fused one-sample path; its
# 400x400 first layer is big enough to be split between two threads).
TRAINERS = {"batch4-adam": ["--layers", "200,50", "--batch-size", "4", "--optimizer", "adam"],
            "batch1-sgd": ["--layers", "400,50", "--batch-size", "1", "--optimizer", "sgd", "--lr", "0.01"]}


@pytest.fixture(params=list(TRAINERS))
def job(tmp_path, request):
    X = np.random.default_rng(0).random((3000, 400), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    args = ["pretrain", str(tmp_path / "x.npy"), "--epochs", "5", *TRAINERS[request.param], "--threads", "2", "-q"]
    return tmp_path, args


def start(args, out):
    return subprocess.Popen(SDAE + args + ["-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_then_kill_then_resume_gives_the_uninterrupted_model(job, sig):
    tmp_path, args = job
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"

    run = start(args, out)
    wait_for(ckpt.exists)  # the first epoch is done and saved
    run.send_signal(sig)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "--resume" in err and str(ckpt) in err and "Traceback" not in err
    assert not out.exists() and ckpt.exists()

    saved = ckpt.stat().st_mtime_ns
    run = start(args + ["--resume", str(ckpt)], out)
    wait_for(lambda: ckpt.stat().st_mtime_ns != saved)  # one more epoch saved
    run.kill()  # SIGKILL: no chance to clean up
    run.communicate(timeout=60)
    assert not out.exists() and ckpt.exists()

    finished = subprocess.run(SDAE + args + ["--resume", str(ckpt), "-o", str(out)], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert out.exists() and not ckpt.exists()  # the checkpoint goes once the model is written

    reference = subprocess.run(SDAE + args + ["-o", str(tmp_path / "ref.npz")], capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    with np.load(out, allow_pickle=False) as got, np.load(tmp_path / "ref.npz", allow_pickle=False) as want:
        assert sorted(got.files) == sorted(want.files)
        for name in got.files:
            if name != "meta":  # meta records seconds per epoch
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_resume_refuses_other_data_or_settings(job):
    tmp_path, args = job
    ckpt = tmp_path / "m.ckpt.npz"
    run = start(args, tmp_path / "m.npz")
    wait_for(ckpt.exists)
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=60)
    np.save(tmp_path / "other.npy", np.random.default_rng(1).random((3000, 400), dtype=np.float32))
    other = [a if a != str(tmp_path / "x.npy") else str(tmp_path / "other.npy") for a in args]
    result = subprocess.run(SDAE + other + ["--resume", str(ckpt), "-o", str(tmp_path / "m.npz")],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "other data" in result.stderr
    result = subprocess.run(SDAE + args + ["--seed", "3", "--resume", str(ckpt), "-o", str(tmp_path / "m.npz")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--seed" in result.stderr
    assert not (tmp_path / "m.npz").exists()


def test_finetune_interrupted_and_resumed_gives_the_uninterrupted_model(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((2000, 100), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", (X[:, :3].sum(axis=1) > 1.5).astype(int))
    pre = subprocess.run(SDAE + ["pretrain", str(tmp_path / "x.npy"), "--layers", "64", "--epochs", "1", "-q",
                                 "-o", str(tmp_path / "pre.npz")], capture_output=True, text=True)
    assert pre.returncode == 0, pre.stderr
    args = ["finetune", "-m", str(tmp_path / "pre.npz"), str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
            "--epochs", "30", "--patience", "100", "--batch-size", "2", "--optimizer", "adam", "--threads", "2", "-q"]
    out, ckpt = tmp_path / "t.npz", tmp_path / "t.ckpt.npz"
    run = start(args, out)
    wait_for(ckpt.exists)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "--resume" in err, err
    assert not out.exists()
    finished = subprocess.run(SDAE + args + ["--resume", str(ckpt), "-o", str(out)], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert not ckpt.exists()
    reference = subprocess.run(SDAE + args + ["-o", str(tmp_path / "ref.npz")], capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    with np.load(out, allow_pickle=False) as got, np.load(tmp_path / "ref.npz", allow_pickle=False) as want:
        for name in got.files:
            if name != "meta":
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_a_signal_while_a_checkpoint_is_written_still_saves_and_says_how_to_resume():
    """The signal can land between epochs, in the middle of writing a checkpoint: the write is
    redone for the finished epoch and the stop is reported as one, not as a bare KeyboardInterrupt."""
    from sdae_cli.training import checkpoints
    from sdae_cli.training.state import run_epochs

    class State:
        epoch = 0

        def snapshot(self):
            return self.epoch

        def rewind(self, snap):
            self.epoch = snap

    state, saves = State(), []

    def one_epoch():
        state.epoch += 1

    def save():
        saves.append(state.epoch)
        if len(saves) == 1:
            raise KeyboardInterrupt  # Ctrl-C during the first checkpoint's write

    with pytest.raises(checkpoints.Interrupted, match="stopped"):
        run_epochs(state, one_epoch, lambda: state.epoch < 5, save, 1,
                   lambda: checkpoints.Interrupted("stopped"))
    assert saves == [1, 1] and state.epoch == 1
