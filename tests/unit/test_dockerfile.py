"""The image holds exactly the distribution: what `pip install .` installs from this checkout.

There is no Docker engine here, so the build is replayed: the build context is made by applying
.dockerignore to the checkout, the build stage's COPY instructions place it, and a wheel is
built from the result as its RUN line does; a second wheel is built from the checkout itself.
The two must hold the same files with the same bytes, and the final stage must install that
wheel and nothing else. A package or data file forgotten by the Dockerfile or hidden by
.dockerignore fails here instead of at the image's first start.

Both builds run offline in copies (the checkout is left as it was: no build/ nor *.egg-info)
with the virtualenv's setuptools and wheel (the `dev` extra); the test skips if they are absent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
# Never part of a distribution, whatever the Dockerfile says: VCS data, environments, caches and
# build leftovers (setuptools ignores them; copying them would only cost time).
NOT_SOURCE = {".git", ".venv", "__pycache__", "build", "dist", ".pytest_cache", ".ruff_cache"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_stages(text: str) -> list[Stage]:
    """The stages of a Dockerfile, each with its (INSTRUCTION, arguments), continuations joined."""
    stages: list[Stage] = []
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append((word, rest))
    return stages


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regex on posix paths."""
    text = text.strip().lstrip("/").rstrip("/")
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(out)


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern(line[1:] if keep else line)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a folder covers it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for keep, pattern in rules:
        if any(pattern.fullmatch(p) for p in prefixes):
            result = not keep
    return result


def checkout_files() -> Iterator[str]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in NOT_SOURCE and not d.endswith(".egg-info")]
        for name in files:
            yield (Path(folder) / name).relative_to(ROOT).as_posix()


def copy_files(paths: Iterator[str] | list[str], into: Path) -> None:
    for rel in paths:
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)


def build_context(into: Path) -> Path:
    """The docker build context: the checkout less what .dockerignore leaves out."""
    rules = ignore_rules(DOCKERIGNORE.read_text(encoding="utf-8")) if DOCKERIGNORE.exists() else []
    copy_files([p for p in checkout_files() if not ignored(p, rules)], into)
    return into


def build_stage_tree(stage: Stage, context: Path, into: Path) -> Path:
    """Replay the stage's WORKDIR and COPY instructions; the directory its RUN lines run in."""
    workdir = into
    for word, args in stage.instructions:
        if word == "WORKDIR":
            workdir = into / args.strip().lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif word in ("COPY", "ADD"):
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            assert not any(p.startswith("--from") for p in shlex.split(args)), args
            *sources, dest = parts
            target = workdir / dest if not dest.startswith("/") else into / dest.lstrip("/")
            for source in sources:
                origin = (context / source).resolve()
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True) if dest.endswith("/") else None
                    shutil.copy2(origin, target / origin.name if target.is_dir() else target)
    return workdir


def build_wheel(source: Path, out: Path) -> Path:
    """`pip wheel --no-deps` offline, with the virtualenv's setuptools; the wheel's path."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(source),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    return wheel


def contents(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist()
            if not name.endswith(".dist-info/RECORD")  # RECORD only repeats these hashes
        }


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))


def test_dockerignore_patterns_follow_docker() -> None:
    rules = ignore_rules("tests\n**/__pycache__\n*.egg-info\ndocs/screenshots\n!docs/keep.md\ndocs")
    assert ignored("tests/unit/test_x.py", rules)
    assert ignored("bot/web/__pycache__/keys.cpython-311.pyc", rules)
    assert ignored("gridvoice.egg-info/PKG-INFO", rules)
    assert not ignored("bot/cases.egg-info.txt", rules)
    assert ignored("docs/screenshots/a.png", rules)
    assert not ignored("bot/tests.py", rules)
    assert not ignored("routing/gridmap.py", rules)
    rules = ignore_rules("docs\n!docs/keep.md")
    assert not ignored("docs/keep.md", rules) and ignored("docs/other.md", rules)


def test_the_final_stage_installs_only_the_wheel(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "a build stage makes the wheel, the last stage installs it"
    build, final = stages[0], stages[-1]
    assert build.name, "the build stage is named so the final stage can copy from it"
    runs = [args for word, args in build.instructions if word == "RUN"]
    assert any(re.search(r"pip wheel --no-deps .*--wheel-dir /dist \.$", r) for r in runs), runs
    copies = [args for word, args in final.instructions if word in ("COPY", "ADD")]
    assert copies, "the final stage copies the wheel in"
    for args in copies:
        assert f"--from={build.name}" in args and "/dist" in args, (
            f"the final stage takes only the built wheel, not {args!r}"
        )
    installs = [args for word, args in final.instructions if word == "RUN" and "pip" in args]
    assert len(installs) == 1, installs
    pip_install = re.search(r"pip install (\S+(?: \S+)*?)(?: &&|$)", installs[0])
    assert pip_install and pip_install.group(1).split() == ["/tmp/dist/*.whl"], installs[0]


def test_the_image_holds_what_pip_install_installs(tmp_path: Path, stages: list[Stage]) -> None:
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("wheel") is None:
        pytest.skip("setuptools and wheel are needed to build offline (pip install '.[dev]')")
    checkout = tmp_path / "checkout"
    copy_files(checkout_files(), checkout)
    distribution = contents(build_wheel(checkout, tmp_path / "dist-checkout"))

    context = build_context(tmp_path / "context")
    source = build_stage_tree(stages[0], context, tmp_path / "image")
    image = contents(build_wheel(source, tmp_path / "dist-image"))

    missing = sorted(set(distribution) - set(image))
    extra = sorted(set(image) - set(distribution))
    changed = sorted(n for n in set(image) & set(distribution) if image[n] != distribution[n])
    assert not (missing or extra or changed), (
        f"the image differs from the distribution: missing {missing[:20]}, "
        f"extra {extra[:20]}, changed {changed[:20]}"
    )
    names = set(distribution)
    for expected in (
        "bot/web/keys.py",
        "bot/web/static/desk.js",
        "bot/store/migrations/versions/0001_initial_store.py",
        "bot/examples/demo-community.yaml",
        "templates/en/labels.yaml",
        "routing/category_model.npz",
    ):
        assert expected in names, f"{expected} is not in the distribution"
