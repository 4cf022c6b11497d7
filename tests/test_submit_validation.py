"""Bad input is refused with one clear line, and nothing is published."""

from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from workers.cli import app as cli
from workers.errors import InvalidInput, UnknownAgent
from workers.settings import load_settings
from workers.submit import build_message

SETTINGS = load_settings()


@pytest.mark.parametrize(
    ("agent", "prompt", "options", "error", "message"),
    [
        ("ceo", "hi", {}, UnknownAgent, "unknown agent type 'ceo'; known: "),
        ("cto", "", {}, InvalidInput, "prompt is empty"),
        ("cto", "   \n", {}, InvalidInput, "prompt is empty"),
        ("cto", 42, {}, InvalidInput, "prompt must be a string, got int"),
        ("cto", None, {}, InvalidInput, "prompt must be a string, got NoneType"),
        ("cto", "x" * (64 * 1024 + 1), {}, InvalidInput, "65537 bytes, above the limit of 65536"),
        ("cto", "hi", {"tenant": "Acme Corp"}, InvalidInput, "invalid tenant name"),
        ("cto", "hi", {"priority": 10}, InvalidInput, "priority must be between 0 and 9"),
        ("cto", "hi", {"temperature": 3}, InvalidInput, "temperature must be between 0 and 2"),
        ("cto", "hi", {"affinity_key": "k" * 257}, InvalidInput, "longer than 256 bytes"),
    ],
)
def test_build_message_refuses(
    agent: object, prompt: object, options: dict, error: type, message: str
) -> None:
    with pytest.raises(error) as info:
        build_message(SETTINGS, agent, prompt, **options)
    assert message in str(info.value)


def test_prompt_at_the_limit_is_accepted() -> None:
    kwargs, _ = build_message(SETTINGS, "cto", "é" * (32 * 1024))
    assert kwargs["agent_type"] == "cto"


def test_custom_prompt_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(max_prompt_bytes=10)
    with pytest.raises(InvalidInput, match="above the limit of 10 bytes"):
        build_message(settings, "cto", "eleven byte")


runner = CliRunner()


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = runner.invoke(cli, args, env=env)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "ceo", "hello"], "error: unknown agent type 'ceo'; known: "),
        (["submit", "cto", ""], "error: prompt is empty"),
        (["submit", "cto", "x" * 70000], "error: prompt is 70000 bytes, above the limit"),
        (["submit", "cto", "hi", "--tenant", "a/b"], "error: invalid tenant name 'a/b'"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2_and_publishes_nothing(
    args: list[str], message: str, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    before = client.dbsize()
    code, err = _cli(args, {"REDIS_URL": redis_url})
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert client.dbsize() == before


def test_cli_invalid_agents_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "agents.toml"
    bad.write_text("[agents.cto]\nscaling = { min = 3, max = 1 }\n")
    code, err = _cli(["status"], {"INFRA_MIND_AGENTS_FILE": str(bad)})
    assert code == 2
    assert err == f"error: {bad}: agents.cto: scaling: min (3) is greater than max (1)\n"


def test_cli_invalid_toml_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "agents.toml"
    bad.write_text("[agents.cto\n")
    code, err = _cli(["submit", "cto", "hi"], {"INFRA_MIND_AGENTS_FILE": str(bad)})
    assert code == 2 and "invalid TOML" in err and err.count("\n") == 1


def test_cli_invalid_setting_exits_2() -> None:
    code, err = _cli(["status"], {"INFRA_MIND_FLOWER_PORT": "99999"})
    assert code == 2 and err.startswith("error: invalid setting flower_port")


def test_cli_unreachable_redis_exits_3() -> None:
    code, err = _cli(["status"], {"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert code == 3 and err.startswith("error: Redis at redis://127.0.0.1:1/0 is unreachable")


def test_submit_many_publishes_all_or_none(redis_url: str, redis_client: redis.Redis) -> None:
    """On the unit-test database (1): no worker consumes there."""
    from workers.app import create_app
    from workers.inspect import queue_state
    from workers.submit import submit_many

    app = create_app(load_settings(redis_url=redis_url.rsplit("/", 1)[0] + "/1"))
    good = [{"agent_type": "cto", "prompt": f"p{n}"} for n in range(3)]
    with pytest.raises(InvalidInput, match=r"^task 3: prompt is empty"):
        submit_many([*good, {"agent_type": "cto", "prompt": " "}], app=app)
    with pytest.raises(InvalidInput, match=r"^task 0: .*unexpected keyword argument 'colour'"):
        submit_many([{**good[0], "colour": "red"}], app=app)
    assert queue_state(redis_client, "agent.cto.default")[0] == 0
    handles = submit_many(good, app=app)
    assert [h.agent_type for h in handles] == ["cto"] * 3
    assert queue_state(redis_client, "agent.cto.default")[0] == 3
    redis_client.flushdb()
    app.close()
