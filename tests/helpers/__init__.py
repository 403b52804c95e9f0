"""What the tests share, in one package, imported one way: `from tests.helpers import ...`
for the names below; servers and fakes from their modules (`tests.helpers.hostile_server`,
`tests.helpers.disguised_service`, `tests.helpers.tls`, ...). Fixtures stay in tests/conftest.py.

- commands: `specsync()` runs the CLI in this process (the default way in), `run()` a real
  process (`SPECSYNC`, `SPECSYNC_MODULE`) where the process is what is tested; `env_for()`
  points an environment at a service.
- assertions: `assert_not_a_crash()`.
- git: `git()` and `new_repo()`, real repositories away from the user's configuration.
- lockfile: `lock_items()`; paths: `ROOT`, `EXAMPLES`, `tomllib`.
- isolation: the user's own home and the temporary one every test gets.
"""

from tests.helpers.assertions import assert_not_a_crash
from tests.helpers.commands import SPECSYNC, SPECSYNC_MODULE, env_for, run, specsync
from tests.helpers.git import git, new_repo
from tests.helpers.isolation import USER_ENV, USER_HOME, with_user_home
from tests.helpers.lockfile import lock_items
from tests.helpers.paths import EXAMPLES, ROOT, tomllib

__all__ = [
    "EXAMPLES",
    "ROOT",
    "SPECSYNC",
    "SPECSYNC_MODULE",
    "USER_ENV",
    "USER_HOME",
    "assert_not_a_crash",
    "env_for",
    "git",
    "lock_items",
    "new_repo",
    "run",
    "specsync",
    "tomllib",
    "with_user_home",
]
