"""The training settings tables: one home for names, defaults, accepted values and what --resume
may change, read by the configs and the CLI alike."""
import dataclasses

import click
import numpy as np
import pytest

from sdae_cli.errors import ConfigError
from sdae_cli.training.configs import FinetuneConfig, PretrainConfig
from sdae_cli.training.settings import (
    DEFAULT_LR,
    FINETUNE,
    PRETRAIN,
    REQUIRED,
    RESUMABLE,
    Range,
    check_resumable,
    resumed_settings,
)


def test_the_configs_take_exactly_the_tables_settings_with_their_defaults():
    for cls, table in ((PretrainConfig, PRETRAIN), (FinetuneConfig, FINETUNE)):
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        assert list(fields) == list(table)
        for name, setting in table.items():
            expected = dataclasses.MISSING if setting.default is REQUIRED else setting.default
            assert fields[name] == expected, name


def test_defaults_differ_where_the_jobs_differ():
    assert (PRETRAIN["epochs"].default, FINETUNE["epochs"].default) == (15, 50)
    assert (PRETRAIN["optimizer"].default, FINETUNE["optimizer"].default) == ("sgd", "momentum")
    assert PretrainConfig(layers=[4]).lr == DEFAULT_LR["pretrain"]["sgd"] == 0.1
    assert FinetuneConfig(optimizer="adam").lr == DEFAULT_LR["finetune"]["adam"] == 0.001


@pytest.mark.parametrize("settings, option", [
    ({"batch_size": 0}, "batch-size"),
    ({"momentum": 1.0}, "momentum"),
    ({"valid_split": 1.0}, "valid-split"),
    ({"valid_split": float("nan")}, "valid-split"),
    ({"lr_decay": 0.0}, "lr-decay"),
    ({"lr_final": 1.5}, "lr-final"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**64}, "seed"),
    ({"threads": 5000}, "threads"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"lr": 1e-50}, "lr"),
    ({"lr": float("inf")}, "lr"),
    ({"activation": ["sigmoid", "soft"]}, "activation"),
    ({"noise_type": "pink"}, "noise-type"),
    ({"noise": [0.2, 1.0]}, "noise"),
    ({"noise": 2.0, "noise_type": "gaussian", "layers": [4]}, None),  # a sigma may exceed 1
    ({"epochs": [3, -1]}, "epochs"),
    ({"epochs": [1, 2, 3]}, "epochs"),  # three values for two layers
    ({"layers": []}, "layers"),
    ({"scale": "log"}, "scale"),
    ({"tied": "yes"}, "tied"),
])
def test_pretrain_settings_are_checked_against_the_table(settings, option):
    settings = {"layers": [4, 2], **settings}
    if option is None:
        PretrainConfig(**settings)
        return
    with pytest.raises(ConfigError) as error:
        PretrainConfig(**settings)
    assert error.value.option == option


@pytest.mark.parametrize("settings, option", [
    ({"epochs": 0}, "epochs"), ({"patience": 0}, "patience"), ({"dropout": 1.0}, "dropout"),
    ({"monitor": "accuracy"}, "monitor"), ({"noise": 1.0}, "noise"), ({"noise_type": "pink"}, "noise-type"),
])
def test_finetune_settings_are_checked_against_the_table(settings, option):
    with pytest.raises(ConfigError) as error:
        FinetuneConfig(**settings)
    assert error.value.option == option


def test_per_layer_settings_expand_to_one_value_per_layer():
    config = PretrainConfig(layers=[8, 4, 2], noise=[0.1, 0.2, 0.3], activation="tanh", epochs=[5])
    assert config.per_layer["noise"] == [0.1, 0.2, 0.3]
    assert config.per_layer["activation"] == ["tanh"] * 3
    assert config.per_layer["epochs"] == [5, 5, 5] and config.epochs == 5
    assert "per_layer" not in config.to_json()


def test_a_range_says_its_bounds_and_gives_the_command_line_the_same_bounds():
    r = Range(float, 0, 1, high_open=True)
    assert [r.contains(v) for v in (0.0, 0.5, 1.0, float("nan"), -0.1, True, "0.5")] == \
        [True, True, False, False, False, False, False]
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\), got 1.0"):
        r.check("x", 1.0)
    with pytest.raises(click.BadParameter):
        r.click_type().convert("1.0", None, None)
    assert r.click_type().convert("0.25", None, None) == 0.25
    assert not Range(int, 1).contains(1.5) and not Range(int, 1).contains(float("inf"))
    assert Range(int, 1).contains(np.int64(3)) and Range(float, 0, 1).contains(np.float32(0.5))


def test_one_list_says_what_resume_may_change_and_it_is_the_tables():
    assert RESUMABLE == ("epochs", "lr", "lr_factors", "patience", "threads")
    resumable = {name for table in (PRETRAIN, FINETUNE) for name, s in table.items() if s.resumable}
    assert set(RESUMABLE) == resumable


def test_resumed_settings_take_the_checkpoints_except_what_was_given():
    saved = PretrainConfig(layers=[4, 2], batch_size=8, epochs=3).to_json()
    given = {**saved, "batch_size": 32, "epochs": 9, "lr": 0.5}
    merged = resumed_settings(saved, given, {"epochs", "lr"})
    assert merged == {**saved, "epochs": 9, "lr": 0.5}
    with pytest.raises(ConfigError, match="made with 8, not 32") as error:
        resumed_settings(saved, given, {"batch_size"})
    assert error.value.option == "batch-size"
    check_resumable(saved, {**saved, "threads": 2, "epochs": 1})
    # A checkpoint older than a setting ran at its default: the command line's, when not given.
    old = {k: v for k, v in FinetuneConfig().to_json().items() if k != "lr_factors"}
    assert resumed_settings(old, {**old, "lr_factors": None}, set())["lr_factors"] is None
    with pytest.raises(ConfigError):
        check_resumable(saved, {**saved, "seed": 1})
