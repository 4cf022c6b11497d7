"""``python -m workers.api``: serve the API with settings from the environment."""

from workers.api.server import serve

serve()
