"""Real git repositories for the history tests, made with the ``git`` command (the tests may run
git; the server never does).

``history_repo`` holds: commits by two authors on fixed dates, a rename, a merge of a branch, a
``.env`` committed once and git-ignored later, uncommitted and staged changes, and a config that
names a program in every place ``git`` would run one (fsmonitor, external diff, textconv, a
filter driver, hooks). Each program only writes a marker file: if any marker exists after a
test, something ran a program from the repository's config.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

SECRET = "SECRET_TOKEN=hunter2-7c1d"


@dataclass
class GitRepo:
    path: Path
    markers: Path  # the directory the hostile programs would write to
    commits: dict[str, str]  # a name of ours -> full id

    def ran(self) -> list[str]:
        """The hostile programs that ran (their markers)."""
        return sorted(p.name for p in self.markers.iterdir())


def git(repo: Path, *args: str, date: str = "2024-01-01T10:00:00+00:00", author: str = "Ada Lovelace") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": f"{author.split()[0].lower()}@example.com",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": f"{author.split()[0].lower()}@example.com",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo),
    }
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def config_fragment(script: Path) -> str:
    """A git config that names ``script`` wherever git would run a program."""
    return (
        "[core]\n"
        f"\tfsmonitor = {script} fsmonitor\n"
        f"\thooksPath = {script.parent / 'hooks'}\n"
        "[diff]\n"
        f"\texternal = {script} external\n"
        '[diff "evil"]\n'
        f"\ttextconv = {script} textconv\n"
        '[filter "evil"]\n'
        f"\tclean = {script} clean\n"
        f"\tsmudge = {script} smudge\n"
        f"\tprocess = {script} process\n"
        "\trequired = true\n"
    )


def hostile(repo: Path, markers: Path) -> None:
    """Make ``repo``'s config name programs that write a marker when run."""
    script = markers.parent / "evil.sh"
    script.write_text(f'#!/bin/sh\ntouch "{markers}/$1"\ncat\n')
    script.chmod(0o755)
    hooks = markers.parent / "hooks"
    hooks.mkdir(exist_ok=True)
    for hook in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction"):
        (hooks / hook).write_text(f'#!/bin/sh\ntouch "{markers}/hook-{hook}"\n')
        (hooks / hook).chmod(0o755)
    with open(repo / ".git" / "config", "a") as config:
        config.write(config_fragment(script))
    (repo / ".git" / "hooks" / "post-checkout").write_text(f'#!/bin/sh\ntouch "{markers}/hook-local"\n')
    (repo / ".git" / "hooks" / "post-checkout").chmod(0o755)


def history_repo(base: Path, *, hostile_config: bool = True) -> GitRepo:
    repo = base / "proj"
    markers = base / "markers"
    markers.mkdir(parents=True)
    repo.mkdir()
    commits: dict[str, str] = {}
    git(repo, "init", "-q")
    (repo / "README.md").write_text("# proj\n\nA small project.\n")
    (repo / "app").mkdir()
    (repo / "app" / "config.py").write_text(
        "".join(f"SETTING_{i} = {i}\n" for i in range(1, 21)) + "def load():\n    return SETTING_1\n"
    )
    (repo / ".env").write_text(SECRET + "\n")
    (repo / ".gitattributes").write_text("*.py diff=evil filter=evil\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Start the project with its config", date="2024-01-01T10:00:00+00:00")
    commits["start"] = head(repo)

    (repo / "app" / "net.py").write_text(
        "import time\n\n\ndef fetch(url, attempts=3):\n"
        "    for attempt in range(attempts):\n        try:\n            return get(url)\n"
        "        except OSError:\n            time.sleep(2 ** attempt)\n    raise TimeoutError(url)\n"
    )
    git(repo, "add", "-A")
    git(
        repo,
        "commit",
        "-q",
        "-m",
        "Add retry with exponential backoff to fetch\n\nNetworks drop requests; three attempts.",
        date="2024-02-01T10:00:00+00:00",
        author="Grace Hopper",
    )
    commits["retry"] = head(repo)

    git(repo, "mv", "app/config.py", "app/settings.py")
    git(repo, "commit", "-q", "-m", "Rename config to settings", date="2024-03-01T10:00:00+00:00")
    commits["rename"] = head(repo)

    (repo / ".gitignore").write_text(".env\n")
    git(repo, "rm", "-q", "--cached", ".env")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Stop tracking .env", date="2024-04-01T10:00:00+00:00")
    commits["untrack"] = head(repo)

    git(repo, "checkout", "-q", "-b", "feature", date="2024-05-01T10:00:00+00:00")
    text = (repo / "app" / "net.py").read_text().replace("attempts=3", "attempts=5")
    (repo / "app" / "net.py").write_text(text)
    git(repo, "commit", "-q", "-am", "Five attempts for flaky mirrors", date="2024-05-01T10:00:00+00:00")
    commits["feature"] = head(repo)
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("# proj\n\nA small project that fetches things.\n")
    git(
        repo,
        "commit",
        "-q",
        "-am",
        "Say what the project does",
        date="2024-05-02T10:00:00+00:00",
        author="Grace Hopper",
    )
    commits["readme"] = head(repo)
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature", date="2024-05-03T10:00:00+00:00")
    commits["merge"] = head(repo)

    # a commit no branch or tag reaches (amended away): never shown
    (repo / "app" / "draft.py").write_text("DRAFT = True\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Draft that was thrown away", date="2024-05-04T10:00:00+00:00")
    commits["dangling"] = head(repo)
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    git(repo, "reflog", "expire", "--expire=now", "--all")

    # uncommitted work: README changed in the tree, app/net.py staged, a new file, the .env
    (repo / "app" / "net.py").write_text((repo / "app" / "net.py").read_text() + "\n# staged note\n")
    git(repo, "add", "app/net.py")
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nWork in progress.\n")
    (repo / "notes.txt").write_text("remember the milk\n")
    if hostile_config:
        hostile(repo, markers)
    return GitRepo(repo, markers, commits)
