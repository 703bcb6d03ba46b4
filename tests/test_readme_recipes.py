"""The README's MNIST recipes and bench/recipes.py, which measures them, are the same commands,
and every option in them is one the CLI has: a recipe changed in one place and not the other
would publish a figure for commands nobody can type."""
import importlib.util
import pathlib
import re
import shlex

import pytest

from sdae_cli.cli import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent


def bench_recipes():
    spec = importlib.util.spec_from_file_location("recipes", ROOT / "bench" / "recipes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_commands() -> list[str]:
    """Every `sdae pretrain|finetune ...` line of the README's bash blocks, continuations joined."""
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = (" ".join(line.split()) for block in blocks for line in block.splitlines())
    return [line for line in lines if line.startswith(("sdae pretrain ", "sdae finetune "))]


def as_typed(command: str) -> str:
    """A bench command as the README prints it: no thread count, not quiet."""
    return "sdae " + " ".join(command.replace("--threads {threads}", "").replace(" -q ", " ").split())


@pytest.mark.parametrize("name", ["CLASSIFY", "DENOISE"])
def test_the_readme_shows_the_commands_bench_runs(name):
    commands = [as_typed(command) for command in getattr(bench_recipes(), name)]
    assert all(command in readme_commands() for command in commands), commands


@pytest.mark.parametrize("name", ["CLASSIFY", "RANDOM_INIT", "DENOISE", "DENOISE_PAIRED"])
def test_every_option_of_a_recipe_is_the_cli_s(name):
    for command in getattr(bench_recipes(), name):
        words = shlex.split(command.format(threads=2))
        known = {opt for param in cli.commands[words[0]].params for opt in param.opts}
        unknown = [word for word in words[1:] if word.startswith("-") and word not in known]
        assert not unknown, (words[0], unknown)


def test_random_init_differs_from_the_recipe_only_in_its_start_and_rates():
    recipes = bench_recipes()
    classify, random_init = recipes.CLASSIFY[1], recipes.RANDOM_INIT[1]
    words = shlex.split(classify)
    factors = words[words.index("--lr-factors") + 1]
    assert set(words) - set(shlex.split(random_init)) == {"--lr-factors", factors, "pretrained.npz", "classifier.npz"}
