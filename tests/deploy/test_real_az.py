"""Every az command the deploy scripts can emit, checked by the real Azure CLI (.venv-az, scripts/setup-az).

Without a login, az parses all arguments (names, choices, required ones) and runs its validators before
it asks for credentials: a correct command ends with "Please run 'az login'" and exit 1, a misspelt
or unknown argument with exit 2 ("unrecognized arguments", "invalid choice", "the following arguments
are required"). The commands come from the scripts themselves: their dry-run output (as printed, with
<placeholders>) and the argv they ran against the stand-in az (with realistic ids and global flags),
over every option combination in scenarios.py. Real az parsing, no stand-in in the checking.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy import provision, subscribe, teardown
from deploy.az import run_main
from eventaudit import auth
from tests.deploy import fake_az as fake_module
from tests.deploy.scenarios import AMR_ID, PROVISION, SUBSCRIBE, TEARDOWN, UNSUBSCRIBE, owned_sources

pytestmark = pytest.mark.az
LOGIN_NEEDED = "Please run 'az login'"


def az_env(config_dir: Path) -> dict[str, str]:
    """A throwaway az configuration: no login, no telemetry, nothing kept between runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "FAKE_AZ_"))}
    env.update(AZURE_CONFIG_DIR=str(config_dir), AZURE_CORE_COLLECT_TELEMETRY="no", AZURE_CORE_NO_COLOR="1",
               AZURE_CORE_SURVEY_MESSAGE="no")
    return env


def run_real(az: Path, args: list[str], config_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(az), *args], capture_output=True, text=True, env=az_env(config_dir),
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def dry_run_commands(capsys) -> list[list[str]]:
    """The commands the scripts print in dry runs, parsed as a shell would."""
    capsys.readouterr()
    for argv in PROVISION:
        assert run_main(provision.main, [*argv, "--dry-run"]) == 0
    for argv in SUBSCRIBE + UNSUBSCRIBE:
        assert run_main(subscribe.main, [*argv, "--dry-run"]) == 0
    for argv in TEARDOWN:
        assert run_main(teardown.main, [*argv, "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("az ")]
    return [shlex.split(line, comments=True)[1:] for line in lines]


def executed_commands(fake_az, capsys) -> list[list[str]]:
    """The argv the scripts ran against the stand-in az: first runs, second runs, updates (a schema
    change among them), removals and teardowns, each from a fresh stand-in Azure."""

    def fresh() -> None:
        fake_az.save(fake_module.empty_state())

    def provisioned() -> None:
        fresh()
        assert run_main(provision.main, PROVISION[0]) == 0
        fake_az.add(*owned_sources())

    for argv in PROVISION:
        fresh()
        assert run_main(provision.main, argv) == 0
        assert run_main(provision.main, [*argv, "--always-ready", "2", "--instance-memory", "512"]) == 0
    for argv in SUBSCRIBE:
        provisioned()
        assert run_main(subscribe.main, argv) == 0
        assert run_main(subscribe.main, [*argv, "--max-delivery-attempts", "5", "--schema", "cloudevents"]) == 0
    for argv in UNSUBSCRIBE:
        provisioned()
        name = argv[argv.index("--name") + 1] if "--name" in argv else "audit-log"
        subscribed = [*SUBSCRIBE[1], "--managed-redis", AMR_ID, "--name", name]
        assert run_main(subscribe.main, subscribed) == 0
        assert run_main(subscribe.main, argv) == 0
    for argv in TEARDOWN:
        provisioned()
        assert run_main(subscribe.main, [*SUBSCRIBE[3]]) == 0
        assert run_main(teardown.main, argv) == 0
    capsys.readouterr()
    return fake_az.raw_calls


BATCH = Path(__file__).with_name("az_batch.py")
# Controls: a correct command needs a login (exit 1); a misspelt or refused one exits 2 before that.
CONTROLS = [
    (["group", "show", "--name", "audit-rg"], 1, LOGIN_NEEDED),
    (["group", "show", "--name", "audit-rg", "--nmae", "x"], 2, "unrecognized arguments"),
    (["eventgrid", "event-subscription", "create", "--name", "a", "--event-delivery-schema", "cloudevents"], 2,
     "is not a valid value for '--event-delivery-schema'"),
    (["role", "assignment", "create", "--role", "Reader"], 2, "the following arguments are required"),
    # Why Resource Notifications are subscribed with `az rest`: this command has no dead-letter identity.
    (["eventgrid", "system-topic", "event-subscription", "create", "--name", "a", "--resource-group", "g",
      "--system-topic-name", "t", "--deadletter-identity", "systemassigned"], 2, "unrecognized arguments"),
]


def run_batch(az: Path, commands: list[list[str]], config_dir: Path, cwd: Path | None = None) -> list[dict]:
    """The real az's answers to many commands, from one process of its own Python (az_batch.py)."""
    completed = subprocess.run([str(az.parent / "python"), str(BATCH)], input=json.dumps(commands), cwd=cwd,
                               capture_output=True, text=True, env=az_env(config_dir), timeout=3600, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    answers = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(answers) == len(commands), completed.stderr[-2000:]
    return answers


def test_the_check_tells_a_misspelt_command_from_a_correct_one(real_az, tmp_path):
    """Real az, the control: as separate `az` processes and through the batch runner alike, a correct
    command reaches the login (exit 1), a misspelt, refused or incomplete one exits 2."""
    batch = run_batch(real_az, [args for args, _, _ in CONTROLS], tmp_path)
    for (args, code, message), answer in zip(CONTROLS, batch, strict=True):
        alone = run_real(real_az, args, tmp_path)
        assert (alone.returncode, message in alone.stderr) == (code, True), (args, alone.returncode, alone.stderr)
        assert (answer["code"], message in answer["stderr"]) == (code, True), (args, answer)


def test_values_az_checks_only_once_logged_in_are_the_documented_ones(real_az, tmp_path):
    """Real az help: --endpoint-type is not checked before the login (free text until then), so the value
    the scripts use is checked against az's own example of an Azure Function destination."""
    result = run_real(real_az, ["eventgrid", "event-subscription", "create", "--help"], tmp_path)
    assert "--endpoint-type azurefunction" in " ".join(result.stdout.split())


def test_every_command_the_scripts_emit_is_accepted_by_the_real_az(real_az, fake_az, capsys, tmp_path):
    """Real az parsing every distinct command of every scenario, dry-run and executed (stand-in) forms."""
    commands = dry_run_commands(capsys) + executed_commands(fake_az, capsys)
    distinct = [list(c) for c in dict.fromkeys(tuple(command) for command in commands)]
    kinds = {" ".join(itertools.takewhile(lambda word: not word.startswith("-"), c)) for c in distinct}
    assert len(distinct) >= 200 and len(kinds) >= 40, (len(distinct), sorted(kinds))
    halves = [distinct[0::2], distinct[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda part: run_batch(real_az, part, tmp_path / str(id(part))), halves))
    failures = [
        f"az {shlex.join(command)}\n  -> exit {answer['code']}: {answer['stderr'].strip()[:500]}"
        for half, half_answers in zip(halves, answers, strict=True)
        for command, answer in zip(half, half_answers, strict=True)
        if not (answer["code"] == 1 and LOGIN_NEEDED in answer["stderr"])
    ]
    print(f"{len(distinct)} distinct az commands ({len(kinds)} kinds) checked through the real az")
    assert not failures, f"{len(failures)} of {len(distinct)} commands refused by the real az:\n" + "\n".join(failures)


# Real az's generic update, on the body the Graph update commands start from (role custom.py
# update_application / update_service_principal with no other options), with each --set of the scripts.
GENERIC_UPDATE = """
import json, sys
from azure.cli.command_modules.role.custom import update_application, update_service_principal
from azure.cli.core.commands.arm import set_properties
for command, expression in json.load(sys.stdin):
    start = update_application if command == "app" else update_service_principal
    body = start(instance={"id": "x", "api": {"requestedAccessTokenVersion": 2}})
    set_properties(body, expression, False)
    print(json.dumps(body))
"""


def test_set_expressions_become_the_graph_body_the_scripts_mean(real_az, fake_az, tmp_path):
    """Real az code: `az ad app update --set api=<JSON>` PATCHes {"api": <that JSON, parsed>} and
    `az ad sp update --set appRoleAssignmentRequired=true` PATCHes the boolean, nothing else, as the
    stand-in assumes (its generic_set)."""
    assert run_main(provision.main, PROVISION[0]) == 0
    sets = [(call[1], call[call.index("--set") + 1]) for call in fake_az.calls if "--set" in call]
    assert [command for command, _ in sets] == ["app", "app", "sp"]
    done = subprocess.run([str(real_az.parent / "python"), "-c", GENERIC_UPDATE], input=json.dumps(sets),
                          capture_output=True, text=True, env=az_env(tmp_path), timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    bodies = [json.loads(line) for line in done.stdout.splitlines()]
    expected = [{key: json.loads(value)} for key, value in (expression.split("=", 1) for _, expression in sets)]
    assert bodies == expected
    assert bodies[2] == {"appRoleAssignmentRequired": True}


DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
APP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/audit-rg/providers/Microsoft.Web/sites/a"


def shell_lines(text: str) -> list[str]:
    """The lines of shell text, continuations joined."""
    return [line.strip() for line in re.sub(r"\\\n\s*", " ", text).splitlines()]


def told_lines(capsys) -> list[str]:
    """What a user is told to type: docs/deploy.md's code blocks, the summaries of the scripts' dry runs
    and the 500 of `entra` mode (eventaudit/auth.py), with an app id for its placeholder."""
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    capsys.readouterr()
    assert run_main(provision.main, [*PROVISION[0], "--dry-run"]) == 0
    assert run_main(subscribe.main, [*SUBSCRIBE[0], "--dry-run"]) == 0
    summaries = [part.split("\n\n", 1)[1] for part in capsys.readouterr().out.split("Planned (dry run")[1:]]
    told = re.search(r"(az rest .*?--query \S+)", auth.auth_disabled_problem(None)).group(1)
    return [line for text in [*blocks, *summaries] for line in shell_lines(text)] + [
        told.replace("<function app resource id>", APP)]


def test_every_az_command_a_user_is_told_to_run_is_accepted_by_the_real_az(real_az, capsys, tmp_path):
    """Real az parsing and validating, before the login, the commands the docs, the scripts' summaries and
    the app's messages give (assigning users, checking sign-in, fetching dead letters, ...), run where
    the directories they `mkdir` first exist."""
    lines = told_lines(capsys)
    work = tmp_path / "work"
    for line in lines:
        if line.startswith("mkdir -p "):
            (work / shlex.split(line, comments=True)[2]).mkdir(parents=True, exist_ok=True)
    # A <placeholder> is the user's to fill in: an id here (to a shell it would be a redirection).
    commands = [shlex.split(re.sub(r"<[^<>]+>", "00000000-0000-0000-0000-0000000000cc", line), comments=True)[1:]
                for line in lines if line.startswith("az ")]
    assert len(commands) >= 10 and any("appRoleAssignedTo" in " ".join(c) for c in commands)
    answers = run_batch(real_az, commands, tmp_path, cwd=work)
    refused = [(shlex.join(c), a["code"], a["stderr"][-300:]) for c, a in zip(commands, answers, strict=True)
               if not (a["code"] == 1 and LOGIN_NEEDED in a["stderr"])]
    assert refused == []
