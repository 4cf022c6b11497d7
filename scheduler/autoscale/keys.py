"""Redis keys of the autoscaler, built from validated names."""

from __future__ import annotations

from workers.keys import PREFIX, pool_id

#: Lock held while one autoscale run decides (SET NX PX with a random token).
LOCK = f"{PREFIX}:scale:lock"
#: Epoch seconds of the last completed autoscale run; duplicate beats within an interval skip.
LAST_RUN = f"{PREFIX}:scale:last-run"


def samples(agent_type: str, pool: str) -> str:
    """List of recent signal samples of a pool (JSON, newest first) for rates and trend."""
    return f"{PREFIX}:scale:samples:{pool_id(agent_type, pool)}"


def decisions(agent_type: str, pool: str) -> str:
    """List of recent decisions of a pool (JSON, newest first), bounded."""
    return f"{PREFIX}:scale:decisions:{pool_id(agent_type, pool)}"


def policy_override(agent_type: str, pool: str) -> str:
    """JSON object of scaling-policy fields set at runtime with ``scale set``."""
    return f"{PREFIX}:scale:policy:{pool_id(agent_type, pool)}"


def boot_times(agent_type: str, pool: str) -> str:
    """List of recently measured worker boot times of a pool (seconds, newest first)."""
    return f"{PREFIX}:scale:boot:{pool_id(agent_type, pool)}"
