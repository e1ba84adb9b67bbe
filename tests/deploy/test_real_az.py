"""Every az command the deploy scripts can emit, checked by the real Azure CLI (.venv-az, scripts/setup-az).

Without a login, az parses all arguments (names, choices, required ones) and runs its validators before
it asks for credentials: a correct command ends with "Please run 'az login'" and exit 1, a misspelt
or unknown argument with exit 2 ("unrecognized arguments", "invalid choice", "the following arguments
are required"). The commands come from the scripts themselves: their dry-run output (as printed, with
<placeholders>) and the argv they ran against the stand-in az (with realistic ids and global flags),
over every option combination in scenarios.py. Real az parsing, no stand-in in the checking.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy import provision, subscribe
from deploy.az import run_main
from tests.deploy.scenarios import PROVISION, SUBSCRIBE, UNSUBSCRIBE, existing_sources, provisioned_app

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
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("az ")]
    return [shlex.split(line, comments=True)[1:] for line in lines]


def executed_commands(fake_az, capsys) -> list[list[str]]:
    """The argv the scripts ran against the stand-in az: first runs, updates and removals."""
    for argv in PROVISION:
        fake_az.state_path.write_text("{}")
        assert run_main(provision.main, argv) == 0
    for argv in SUBSCRIBE:
        fake_az.state_path.write_text("{}")
        fake_az.seed(**existing_sources(), **provisioned_app())
        assert run_main(subscribe.main, argv) == 0
        assert run_main(subscribe.main, [*argv, "--max-delivery-attempts", "5"]) == 0  # the update path
    for argv in UNSUBSCRIBE:
        fake_az.state_path.write_text("{}")
        fake_az.seed(**existing_sources(), **provisioned_app())
        assert run_main(subscribe.main, [*SUBSCRIBE[1], "--name", argv[argv.index("--name") + 1]]
                        if "--name" in argv else SUBSCRIBE[1]) == 0
        assert run_main(subscribe.main, argv) == 0
    capsys.readouterr()
    return fake_az.raw_calls


def test_the_check_tells_a_misspelt_command_from_a_correct_one(real_az, tmp_path):
    """Real az: the control. Correct -> login needed (1); unknown argument, bad choice, missing one -> 2."""
    correct = run_real(real_az, ["group", "show", "--name", "audit-rg"], tmp_path)
    assert (correct.returncode, LOGIN_NEEDED in correct.stderr) == (1, True), correct.stderr
    for args, message in [
        (["group", "show", "--name", "audit-rg", "--nmae", "x"], "unrecognized arguments"),
        (["eventgrid", "event-subscription", "create", "--name", "a", "--event-delivery-schema", "cloudevents"],
         "is not a valid value for '--event-delivery-schema'"),
        (["role", "assignment", "create", "--role", "Reader"], "the following arguments are required"),
    ]:
        wrong = run_real(real_az, args, tmp_path)
        assert wrong.returncode == 2 and message in wrong.stderr, (args, wrong.returncode, wrong.stderr)


def test_values_az_checks_only_once_logged_in_are_the_documented_ones(real_az, tmp_path):
    """Real az help: --endpoint-type is not checked before the login (free text until then), so the value
    the scripts use is checked against az's own example of an Azure Function destination."""
    result = run_real(real_az, ["eventgrid", "event-subscription", "create", "--help"], tmp_path)
    assert "--endpoint-type azurefunction" in " ".join(result.stdout.split())


def test_every_command_the_scripts_emit_is_accepted_by_the_real_az(real_az, fake_az, capsys, tmp_path):
    """Real az parsing every distinct command of every scenario, dry-run and executed (stand-in) forms."""
    commands = dry_run_commands(capsys) + executed_commands(fake_az, capsys)
    distinct = list(dict.fromkeys(tuple(command) for command in commands))
    kinds = {" ".join(c[:4]) for c in distinct}
    assert len(distinct) >= 60 and len(kinds) >= 20, (len(distinct), sorted(kinds))

    def check(command: tuple[str, ...]) -> str | None:
        result = run_real(real_az, list(command), tmp_path)
        if result.returncode == 1 and LOGIN_NEEDED in result.stderr:
            return None
        return f"az {shlex.join(command)}\n  -> exit {result.returncode}: {result.stderr.strip()[:500]}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [failure for failure in pool.map(check, distinct) if failure]
    print(f"{len(distinct)} distinct az commands ({len(kinds)} kinds) checked through the real az")
    assert not failures, f"{len(failures)} of {len(distinct)} commands refused by the real az:\n" + "\n".join(failures)
