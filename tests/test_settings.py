from pathlib import Path

import pytest

from workers.errors import ConfigError, UnknownAgent
from workers.settings import load_settings, parse_agents


def test_defaults_have_six_agent_types_with_one_pool_each() -> None:
    settings = load_settings()
    assert list(settings.agents) == [
        "cto", "cloud_engineer", "research", "compliance", "mlops", "report_generator",
    ]  # fmt: skip
    for agent in settings.agents.values():
        assert list(agent.pools) == ["default"]
        policy = agent.policy("default")
        assert 1 <= policy.min <= policy.max
        assert agent.monthly_budget_usd > 0 and agent.hourly_rate_usd > 0


def test_unknown_agent_lists_known_ones() -> None:
    with pytest.raises(UnknownAgent, match="known: cloud_engineer, compliance, cto"):
        load_settings().agent("ceo")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[agents.cto\nmodel = 1", "invalid TOML"),
        ("[agents.cto]\nscaling = { min = 5, max = 2 }", "agents.cto: scaling: min (5) is greater"),
        ("[agents.cto]\nscaling = { min = -1 }", "agents.cto: scaling.min"),
        ("[agents.cto]\nmodell = 'x'", "agents.cto: modell: Extra inputs"),
        ("[agents.CTO]\n", "invalid agent type name 'CTO'"),
        ("[agents.cto.pools.'a:b']\n", "invalid pool name 'a:b'"),
        ("[agents.cto]\ndispatch = 'random'", "agents.cto: dispatch"),
        ("[other]\n", "unknown top-level table"),
        ("", "no [agents.<name>] tables"),
    ],
)
def test_invalid_agent_files_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        parse_agents(text, "agents.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("agents.toml")


def test_invalid_env_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRA_MIND_MAX_PROMPT_BYTES", "lots")
    with pytest.raises(ConfigError, match=r"max_prompt_bytes .*INFRA_MIND_MAX_PROMPT_BYTES"):
        load_settings()


def test_missing_agents_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"agents file .*missing\.toml"):
        load_settings(agents_file=tmp_path / "missing.toml")


def test_redis_url_env_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:1/0")
    assert load_settings().redis_url == "redis://example:1/0"
