"""Exit codes of the `infra-mind` command."""

OK = 0
#: A runtime failure (a task failed, a job raised).
FAILURE = 1
#: Bad input: unknown agent type, bad prompt, invalid settings. Nothing was changed.
USAGE = 2
#: Redis or MongoDB unreachable.
UNAVAILABLE = 3
#: A hard budget refused the request.
BUDGET = 4
#: A tenant's submission rate limit refused the request (try again later).
RATE_LIMITED = 5
#: Interrupted by Ctrl-C.
INTERRUPTED = 130
