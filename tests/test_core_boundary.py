"""The core's boundary: views in without hidden copies, clear errors for wrong shapes and
settings, and every slice of the work done whatever team OpenMP gives."""
import numpy as np
import pytest
from core_cases import ACT, LOSS, NOISE, OPT, make_layer, unit_data

from sdae_cli import _core


class TestBoundary:
    """Views in, no hidden copies, clear errors for wrong shapes."""

    spec, theta = make_layer(6, 4, True)

    def test_theta_is_updated_in_place(self):
        theta = self.theta.copy()
        before = theta.copy()
        address = theta.__array_interface__["data"][0]
        train = _core.TrainSpec(optimizer=OPT["sgd"], noise_level=0.2, batch_size=4, num_threads=1)
        empty = np.zeros(0, np.float32)
        _core.train_epoch(self.spec, train, theta, empty, empty, 0, unit_data(8, 6), 0)
        assert theta.__array_interface__["data"][0] == address
        assert not np.array_equal(theta, before)

    def test_outputs_are_written_into_the_callers_array(self):
        X = unit_data(5, 6)
        H = np.zeros((5, 4), np.float32)
        _core.encode(self.spec, self.theta, X, H, 1)
        assert np.all(H > 0)

    def test_results_do_not_depend_on_where_arrays_sit_in_memory(self):
        """Outputs at every float offset from a cache line agree bit for bit (NumPy aligns arrays
        only loosely, and vector and scalar exp round differently)."""
        spec = _core.LayerSpec(77, 53, False, ACT["sigmoid"], ACT["sigmoid"])
        theta = np.zeros(spec.size, np.float32)
        _core.init_params(spec, theta, 0)
        X = unit_data(40, 77)
        codes, recons = [], []
        for offset in range(16):
            H = np.empty(40 * 53 + 16, np.float32)[offset:offset + 40 * 53].reshape(40, 53)
            Z = np.empty(40 * 77 + 16, np.float32)[offset:offset + 40 * 77].reshape(40, 77)
            shifted = np.empty(theta.size + 16, np.float32)[offset:offset + theta.size]
            shifted[:] = theta
            _core.encode(spec, shifted, X, H, 1)
            _core.decode(spec, shifted, H, Z, 1)
            codes.append(H.copy())
            recons.append(Z.copy())
        for H, Z in zip(codes, recons):
            np.testing.assert_array_equal(H, codes[0])
            np.testing.assert_array_equal(Z, recons[0])

    def test_stack_forward_does_not_depend_on_where_arrays_sit_in_memory(self):
        """The same for the chain that encode, denoise and predict run (its short products
        take 9 rows, its panels all 700): the input and output at every float offset."""
        spec = _core.StackSpec([(77, 53, ACT["sigmoid"]), (53, 40, ACT["tanh"])], _core.OutputLoss.squared_error)
        theta = np.random.default_rng(0).normal(0, 0.3, spec.size).astype(np.float32)
        for rows in (9, 700):
            X = unit_data(rows, 77)
            outs = []
            for offset in range(16):
                Xs = np.empty(rows * 77 + 16, np.float32)[offset:offset + rows * 77].reshape(rows, 77)
                Xs[:] = X
                out = np.empty(rows * 40 + 16, np.float32)[offset:offset + rows * 40].reshape(rows, 40)
                _core.stack_forward(spec, theta, Xs, out, 2)
                outs.append(out.copy())
            for out in outs:
                np.testing.assert_array_equal(out, outs[0])

    @pytest.mark.parametrize("optimizer", ["sgd", "adam"])
    def test_training_does_not_depend_on_where_theta_sits(self, optimizer):
        """An epoch at batch 16 (the register tiles, and bias gradients summed over the batch)
        from theta at every float offset from a cache line: the same bits. (Eigen's colwise sums
        added the columns it peeled for alignment in another order: they did not.)"""
        spec = _core.LayerSpec(300, 40, True, ACT["sigmoid"], ACT["sigmoid"])
        theta = np.zeros(spec.size, np.float32)
        _core.init_params(spec, theta, 0)
        X = unit_data(48, 300, seed=5)
        train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3,
                                optimizer=OPT[optimizer], lr=0.1, batch_size=16, seed=1, num_threads=1)
        results = []
        for offset in range(16):
            shifted = np.empty(theta.size + 16, np.float32)[offset:offset + theta.size]
            shifted[:] = theta
            m, v = np.zeros_like(theta), np.zeros_like(theta)
            _core.train_epoch(spec, train, shifted, m, v, 0, X, 0)
            results.append(shifted.copy())
        for result in results:
            np.testing.assert_array_equal(result, results[0])

    def test_a_read_only_memmap_is_accepted_without_copy(self, tmp_path):
        X = unit_data(5, 6)
        np.save(tmp_path / "x.npy", X)
        mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
        H = np.empty((5, 4), np.float32)
        _core.encode(self.spec, self.theta, mapped, H, 1)
        expected = np.empty_like(H)
        _core.encode(self.spec, self.theta, X, expected, 1)
        np.testing.assert_array_equal(H, expected)

    @pytest.mark.parametrize("bad", [
        unit_data(5, 6).astype(np.float64),  # would need a conversion
        np.asfortranarray(unit_data(5, 6)),  # would need a transpose copy
    ], ids=["float64", "fortran"])
    def test_arrays_that_would_need_a_copy_are_refused(self, bad):
        with pytest.raises(TypeError):
            _core.encode(self.spec, self.theta, bad, np.empty((5, 4), np.float32), 1)

    def test_wrong_shapes_raise_value_error_naming_the_array(self):
        with pytest.raises(ValueError, match="X: expected 6 columns, got 7"):
            _core.encode(self.spec, self.theta, unit_data(5, 7), np.empty((5, 4), np.float32), 1)
        with pytest.raises(ValueError, match="theta: expected 34 parameters"):
            _core.encode(self.spec, self.theta[:-1].copy(), unit_data(5, 6), np.empty((5, 4), np.float32), 1)
        with pytest.raises(ValueError, match="cross-entropy needs a sigmoid decoder"):
            spec = _core.LayerSpec(6, 4, True, ACT["sigmoid"], ACT["linear"])
            _core.loss_and_gradient(spec, LOSS["cross-entropy"], self.theta, unit_data(2, 6), unit_data(2, 6),
                                    np.zeros_like(self.theta), 1)

    def test_bad_hyper_parameters_raise_value_error(self):
        with pytest.raises(ValueError, match="learning rate"):
            _core.TrainSpec(lr=0.0)
        with pytest.raises(ValueError, match="batch size"):
            _core.TrainSpec(batch_size=0)
        with pytest.raises(ValueError, match="layer sizes"):
            _core.LayerSpec(0, 4)


def test_a_smaller_team_than_asked_for_still_computes_everything(tmp_path):
    """OMP_THREAD_LIMIT or OMP_DYNAMIC can give fewer threads than num_threads asks: every slice
    of the work must still be done (and done the same way)."""
    import os
    import subprocess
    import sys

    script = """
import sys, numpy as np
from sdae_cli import _core
from sdae_cli.layer import Layer, aligned_zeros
layer = Layer(256, 256)
_core.init_params(layer.spec, layer.theta, 0)
X = np.random.default_rng(0).random((64, 256), dtype=np.float32)
grad = aligned_zeros(layer.theta.size)  # where outputs sit must not matter: sdae aligns them all
loss = _core.loss_and_gradient(layer.spec, _core.Loss.cross_entropy, layer.theta, X, X, grad, 2)
H = aligned_zeros((4096, 256))
_core.encode(layer.spec, layer.theta, np.random.default_rng(1).random((4096, 256), dtype=np.float32), H, 2)
online = Layer(520, 510)  # batch 1 with plain SGD: the fused path, its rows split in two slices
_core.init_params(online.spec, online.theta, 0)
train = _core.TrainSpec(noise=_core.NoiseType.masking, noise_level=0.3, lr=0.01, batch_size=1, num_threads=2)
_core.train_epoch(online.spec, train, online.theta, aligned_zeros(0), aligned_zeros(0), 0,
                  np.random.default_rng(2).random((64, 520), dtype=np.float32), 0)
np.savez(sys.argv[1], loss=loss, grad=grad, H=H, online=online.theta)
"""
    results = []
    for limit in (None, "1"):
        env = dict(os.environ)
        if limit:
            env["OMP_THREAD_LIMIT"] = limit
        out = str(tmp_path / f"team-{limit}.npz")
        subprocess.run([sys.executable, "-c", script, out], env=env, check=True)
        with np.load(out) as f:
            results.append({k: f[k] for k in f.files})
        os.unlink(out)
    full, limited = results
    for name in ("loss", "grad", "H", "online"):
        np.testing.assert_array_equal(limited[name], full[name], err_msg=name)
