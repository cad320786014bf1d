"""The `persona` CLI, driven through Typer's CliRunner with the fake embedder (PERSONA_EMBEDDER=fake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

from persona import Persona
from persona.cli import app
from persona.cli._docs import reference, reference_path

Run = Callable[..., Result]

MEMORY_FIELDS = {
    "id",
    "user_id",
    "text",
    "kind",
    "metadata",
    "created_at",
    "updated_at",
    "importance",
    "source",
    "valid_to",
    "superseded_by",
    "sensitivity",
    "event_times",
}
"""The documented memory object (docs/cli.md); a change here is a breaking change for scripts."""


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("PERSONA_EMBEDDER", "fake")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, prog_name="persona")

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


def fails(result: Result, *fragments: str) -> str:
    """A clean failure: exit code 1, one line on stderr, no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def add(run: Run, user: str, text: str, *options: str) -> dict[str, Any]:
    memory: dict[str, Any] = data(run("add", user, text, *options, "--json"))
    return memory


# -- help and docs -----------------------------------------------------------------------------------------


def test_every_command_and_option_has_help_with_an_example() -> None:
    group = get_command(app)
    commands = getattr(group, "commands", {})
    assert {
        "users",
        "list",
        "show",
        "search",
        "add",
        "edit",
        "rm",
        "forget",
        "export",
        "import",
        "prompt",
        "chat",
        "stats",
        "doctor",
        "reindex",
    } <= set(commands)
    for param in group.params:
        assert getattr(param, "help", None), f"global option {param.name} has no help"
    for name, command in commands.items():
        assert command.help and "Example: persona" in command.help, (
            f"persona {name} has no help with an example"
        )
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if "--json" in options:
            assert "JSON:" in command.help or name == "export", (
                f"persona {name} --json does not document its shape"
            )
        for param in command.params:
            assert getattr(param, "help", None), f"persona {name}: {param.name} has no help"


def test_cli_reference_is_up_to_date() -> None:
    assert reference_path().read_text("utf-8") == reference(app), (
        "docs/cli.md is stale; regenerate it with: python scripts/gen_cli_docs.py"
    )


def test_version_and_no_arguments(run: Run) -> None:
    assert ok(run("--version")).startswith("persona ")
    assert "Usage: persona" in run().stdout


# -- reading and writing -----------------------------------------------------------------------------------


def test_empty_results_succeed(run: Run) -> None:
    assert data(run("users", "--json")) == []
    assert data(run("list", "nobody", "--json")) == []
    assert data(run("search", "nobody", "anything", "--json")) == []
    assert data(run("export", "nobody"))["memories"] == []
    assert "no memories" in ok(run("list", "nobody"))


def test_add_list_search_users_json_shapes(run: Run) -> None:
    added = add(
        run, "alice", "I am allergic to peanuts", "--meta", "source=onboarding", "--importance", "0.9"
    )
    assert set(added) == MEMORY_FIELDS
    assert added["user_id"] == "alice" and added["kind"] == "fact"
    assert added["metadata"]["source"] == "onboarding" and added["metadata"]["key"] == "allergy:peanuts"
    assert added["importance"] == 0.9
    add(run, "alice", "I love hiking in the Alps", "--kind", "preference")
    add(run, "bob", "Bob plays chess")

    listed = data(run("list", "alice", "--json"))
    assert [m["text"] for m in listed] == ["I love hiking in the Alps", "I am allergic to peanuts"]
    assert all(set(m) == MEMORY_FIELDS for m in listed)
    assert [m["kind"] for m in data(run("list", "alice", "--kind", "preference", "--json"))] == ["preference"]
    assert len(data(run("list", "alice", "-n", "1", "--json"))) == 1
    assert data(run("list", "alice", "--since", "2999-01-01", "--json")) == []
    assert len(data(run("list", "alice", "--since", "1h", "--json"))) == 2

    hits = data(run("search", "alice", "peanuts allergy", "-k", "1", "--json"))
    assert len(hits) == 1 and hits[0]["id"] == added["id"]
    assert (
        set(hits[0]) == MEMORY_FIELDS | {"score", "parts"}
        and isinstance(hits[0]["score"], float)
        and hits[0]["parts"]
    )
    filtered = data(run("search", "alice", "peanuts", "--where", "source=onboarding", "--json"))
    assert [h["id"] for h in filtered] == [added["id"]]

    assert data(run("users", "--json")) == [{"user_id": "alice"}, {"user_id": "bob"}]
    assert ok(run("users")).split() == ["alice", "bob"]


def test_tables_for_people_show_text_verbatim(run: Run) -> None:
    memory = add(run, "alice", "I like [bold]markup[/] and café")
    assert "[bold]markup[/]" in ok(run("list", "alice"))
    out = ok(run("search", "alice", "markup", "--explain"))
    assert memory["id"] in out and "lexical" in out
    assert "café" in ok(run("show", memory["id"]))
    assert "café" in json.dumps(data(run("list", "alice", "--json")), ensure_ascii=False)


def test_show_edit_and_history(run: Run) -> None:
    memory = add(run, "alice", "I am vegetarian", "--kind", "preference")
    edited = data(run("edit", memory["id"], "--text", "I am vegan", "--meta", "since=2024", "--json"))
    assert edited["text"] == "I am vegan" and edited["metadata"] == {"since": "2024"}
    assert data(run("edit", memory["id"], "--kind", "fact", "--json"))["kind"] == "fact"
    shown = data(run("show", memory["id"], "--json"))
    assert shown["memory"]["text"] == "I am vegan"
    assert [h["event"] for h in shown["history"]] == ["ADD", "UPDATE", "UPDATE"]
    assert shown["history"][0]["text"] == "I am vegetarian"
    assert "history" in ok(run("show", memory["id"]))
    fails(run("edit", memory["id"]), "nothing to update")


def test_unknown_or_deleted_id_fails_with_one_line(run: Run) -> None:
    memory = add(run, "alice", "I am allergic to peanuts")
    assert data(run("rm", memory["id"], "--json")) == {"id": memory["id"], "deleted": True}
    for command in (["show"], ["rm"], ["edit", "--text", "x"]):
        fails(run(command[0], memory["id"], *command[1:]), memory["id"])
    fails(run("show", "no-such-id"), "no-such-id")


def test_missing_or_bad_user_and_bad_options(run: Run) -> None:
    missing = run("list")
    assert missing.exit_code == 2 and "Missing argument" in missing.stderr
    fails(run("list", " "), "user_id")
    bad_when = run("list", "alice", "--since", "yesterday-ish")
    assert bad_when.exit_code == 2 and "duration" in bad_when.stderr
    bad_meta = run("add", "alice", "text", "--meta", "novalue")
    assert bad_meta.exit_code == 2 and "key=value" in bad_meta.stderr
    assert run("add", "alice", "text", "--kind", "nonsense").exit_code == 2


def test_debug_shows_the_exception(run: Run) -> None:
    result = run("--debug", "show", "no-such-id")
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


def test_forget_asks_unless_yes(run: Run) -> None:
    add(run, "alice", "I am allergic to peanuts")
    refused = run("forget", "alice", input="n\n")
    assert refused.exit_code == 1 and len(data(run("list", "alice", "--json"))) == 1
    assert "forgot 'alice'" in ok(run("forget", "alice", input="y\n"))
    add(run, "alice", "again")
    assert data(run("forget", "alice", "--yes", "--json")) == {"user_id": "alice", "forgotten": 1}
    assert data(run("users", "--json")) == []


def test_forget_of_a_user_without_memories_still_erases_their_replies(run: Run) -> None:
    """A user whose memories are all deleted may still have replies and feedback: `forget` erases them and
    exits 1 saying there is no such user (nothing of them was a memory)."""
    from datetime import datetime, timezone

    from persona import Persona

    with Persona() as p:  # $PERSONA_HOME, as the CLI opens it
        p._memories.store.record_reply("r1", "carol", "local/smollm2", [], datetime.now(timezone.utc))
        assert p._memories.store.get_reply("r1") is not None
    result = run("forget", "carol", "--yes")
    assert result.exit_code == 1 and "no user 'carol'" in result.stderr
    with Persona() as p:
        assert p._memories.store.get_reply("r1") is None


# -- export and import -------------------------------------------------------------------------------------


def test_export_then_import_into_another_store(run: Run, tmp_path: Path) -> None:
    add(run, "alice", "I am allergic to peanuts", "--meta", "source=onboarding")
    memory = add(run, "alice", "I went to Rome", "--kind", "episode")
    run("edit", memory["id"], "--text", "I went to Rome in May")
    file = tmp_path / "alice.json"
    ok(run("export", "alice", "-o", str(file)))
    exported = json.loads(file.read_text("utf-8"))
    assert exported["format"] == "persona.export" and len(exported["memories"]) == 2
    assert json.loads(ok(run("export", "alice"))) == exported

    other = str(tmp_path / "other")
    assert data(run("--store", other, "import", str(file), "--json")) == {"user_id": "alice", "imported": 2}
    assert data(run("--store", other, "list", "alice", "--json")) == data(run("list", "alice", "--json"))
    history = data(run("--store", other, "show", memory["id"], "--json"))["history"]
    assert [h["event"] for h in history] == ["ADD", "UPDATE"]
    fails(run("--store", other, "import", str(file)), "already exists")
    fails(run("export", "alice", "-o", str(tmp_path / "no-such-dir" / "x.json")), "cannot write")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "not a persona export"),
        ("", "not valid JSON"),
    ],
)
def test_malformed_import_imports_nothing(run: Run, tmp_path: Path, content: str, fragment: str) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content, "utf-8")
    fails(run("import", str(file)), fragment)
    assert data(run("users", "--json")) == []


def test_import_with_one_bad_memory_imports_nothing(run: Run, tmp_path: Path) -> None:
    add(run, "alice", "one")
    add(run, "alice", "two")
    exported = json.loads(ok(run("export", "alice")))
    ok(run("forget", "alice", "--yes"))
    exported["memories"][1]["kind"] = "not-a-kind"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(exported), "utf-8")
    fails(run("import", str(file)), "not-a-kind")
    assert data(run("list", "alice", "--json")) == []
    fails(run("import", str(tmp_path / "missing.json")), "missing.json")


def test_import_from_stdin(run: Run) -> None:
    add(run, "alice", "one")
    exported = ok(run("export", "alice"))
    ok(run("forget", "alice", "--yes"))
    assert data(run("import", "-", "--json", input=exported))["imported"] == 1


# -- maintenance -------------------------------------------------------------------------------------------


def test_stats(run: Run) -> None:
    add(run, "alice", "one", "--kind", "preference")
    add(run, "bob", "two")
    stats = data(run("stats", "--json"))
    assert stats["users"] == 2 and stats["memories"] == 2
    assert stats["by_kind"] == {"fact": 1, "preference": 1}
    assert stats["embedder"]["id"].startswith("fake") and stats["size_bytes"] > 0
    assert "memories" in ok(run("stats"))


def test_doctor(run: Run) -> None:
    add(run, "alice", "one")
    checks = {c["check"]: c for c in data(run("doctor", "--json"))}
    assert {name: checks[name]["status"] for name in ("store", "embedder", "index")} == dict.fromkeys(
        ("store", "embedder", "index"), "ok"
    )
    assert {"tokenizer", "local model"} <= set(checks)
    quick = {c["check"]: c["status"] for c in data(run("doctor", "--quick", "--json"))}
    assert quick["store"] == "ok" and quick["embedder"] == "skip"
    assert "store" in ok(run("doctor", "--quick"))


def test_doctor_warns_about_memories_without_sentence_keys(run: Run, tmp_path: Path) -> None:
    import sqlite3

    store = tmp_path / "old"
    ok(run("--store", str(store), "add", "alice", "I adopted a kitten. She sleeps on my keyboard all day."))
    quick = {c["check"]: c for c in data(run("--store", str(store), "doctor", "--quick", "--json"))}
    assert quick["sentence keys"]["status"] == "ok"
    db = sqlite3.connect(store / "persona.db")
    with db:
        db.execute("UPDATE memories SET key_embeddings = NULL")  # as written before migration 003
    db.close()
    quick = {c["check"]: c for c in data(run("--store", str(store), "doctor", "--quick", "--json"))}
    assert (
        quick["sentence keys"]["status"] == "warn" and "persona reindex" in quick["sentence keys"]["detail"]
    )
    ok(run("--store", str(store), "reindex"))
    quick = {c["check"]: c for c in data(run("--store", str(store), "doctor", "--quick", "--json"))}
    assert quick["sentence keys"]["status"] == "ok"


def test_doctor_fails_on_a_broken_store(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "persona.db").write_bytes(b"this is not sqlite" * 100)
    result = run("--store", str(broken), "doctor", "--quick", "--json")
    assert result.exit_code == 1
    assert {c["check"]: c["status"] for c in json.loads(result.stdout)}["store"] == "fail"
    fails(run("--store", str(broken), "list", "alice"), "not")


def test_reindex(run: Run) -> None:
    add(run, "alice", "one")
    add(run, "alice", "two")
    assert data(run("reindex", "--json")) == {"reembedded": 2, "embedder": "fake-bow-64"}
    assert len(data(run("search", "alice", "one", "--json"))) == 2


# -- prompting (needs Persona.prompt / Persona.chat) -------------------------------------------------------


def test_strategy_help_names_every_builtin_strategy() -> None:
    prompting = pytest.importorskip("persona.prompting")
    from persona.cli.conversation import STRATEGIES

    assert set(STRATEGIES) == set(prompting.list_strategies())


def test_prompt(run: Run) -> None:
    memory = add(run, "alice", "I am allergic to peanuts")
    rendered = data(run("prompt", "alice", "what should I avoid eating?", "--json"))
    assert rendered["messages"] and memory["id"] in rendered["memory_ids"]
    assert "tokens" in ok(run("prompt", "alice", "what should I avoid eating?", "--budget", "500"))


def test_chat_through_the_runner(run: Run) -> None:
    add(run, "alice", "I am allergic to peanuts")
    out = ok(
        run(
            "chat",
            "alice",
            "-o",
            "mock_response=Avoid peanuts.",
            "--no-learn",
            input="what should I avoid?\nand tomorrow?\n/exit\n",
        )
    )
    assert out.count("Avoid peanuts.") == 2 and "1 memories used" in out


def test_chat_in_a_real_terminal(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {
        **os.environ,
        "PERSONA_HOME": str(tmp_path / "store"),
        "PERSONA_EMBEDDER": "fake",
        "COLUMNS": "100",
    }
    with Persona(tmp_path / "store", embedder=_fake()) as p:
        p.add("alice", "I am allergic to peanuts")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "persona", "chat", "alice", "-o", "mock_response=Skip the satay, it has peanuts."],
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    child.expect("you>")
    child.sendline("I am allergic to shellfish. What should I order?")
    child.expect("Skip the satay, it has peanuts.")
    child.expect("memories used")
    child.expect("you>")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    with Persona(tmp_path / "store", embedder=_fake()) as p:  # the session learned from the turn
        assert any("shellfish" in m.text for m in p.list("alice"))


def _fake() -> Any:
    from persona.testing import FakeEmbedder

    return FakeEmbedder()


# -- start-up: the inspection commands never import torch --------------------------------------------------

_PROBE = """
import sys
from persona.cli import main
sys.argv = ["persona", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers", "onnxruntime", "litellm")
               if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize(
    "args",
    [["users"], ["list", "--help"], ["list", "alice"], ["stats"], ["export", "alice"], ["show", "nope"]],
)
def test_inspection_commands_do_not_import_torch(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PERSONA_HOME": str(tmp_path / "store")}
    env.pop("PERSONA_EMBEDDER", None)
    with Persona(tmp_path / "store", embedder=_fake()) as p:
        p.add("alice", "I am allergic to peanuts")
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == "HEAVY=", out.stdout + out.stderr


def test_python_dash_m_persona(tmp_path: Path) -> None:
    env = {**os.environ, "PERSONA_HOME": str(tmp_path / "store"), "PERSONA_EMBEDDER": "fake"}
    out = subprocess.run(
        [sys.executable, "-m", "persona", "users", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and json.loads(out.stdout) == []
    bad = subprocess.run(
        [sys.executable, "-m", "persona", "show", "nope"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("Error: ")


def test_list_hides_superseded_memories_unless_asked(run: Run) -> None:
    old = add(run, "alice", "I live in Paris")
    new = add(run, "alice", "I live in Berlin")
    from persona import Persona
    from persona.testing import FakeEmbedder

    with Persona(embedder=FakeEmbedder()) as p:  # the store is $PERSONA_HOME, as for the CLI
        p.supersede(old["id"], new["id"])
    assert [m["id"] for m in data(run("list", "alice", "--json"))] == [new["id"]]
    listed = data(run("list", "alice", "--superseded", "--json"))
    assert {m["id"] for m in listed} == {old["id"], new["id"]}
    assert next(m for m in listed if m["id"] == old["id"])["superseded_by"] == new["id"]
