"""The `careers-bot` commands as a newcomer would run them.

Most run in this process (`careers_bot`: bot.cli.main with argv, tests/cli_run.py); each command
family also runs at least once through the installed console script in a subprocess of its own
(`careers_bot_process`), and Ctrl-C and the terminal (pty) tests always do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import run_main
from review_scripts import full_review_lines

from model_data import Edition, load_model

BIN = Path(sys.executable).parent / "careers-bot"


ENV = {"COLUMNS": "120", "NO_COLOR": "1"}


def careers_bot(
    *args: str, stdin: str = "", db: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A command run in this process (tests/cli_run.py): bot.cli.main, as the script runs it."""
    database = ["--database-url", f"sqlite:///{db}"] if db is not None else []
    return run_main([*database, *args], stdin=stdin, env=ENV)


def careers_bot_process(
    *args: str, stdin: str = "", db: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A command run by the installed console script in a process of its own, end to end."""
    env = {**os.environ, **ENV}
    command = [str(BIN)]
    if db is not None:
        command += ["--database-url", f"sqlite:///{db}"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module", autouse=True)
def _console_script_installed() -> None:
    assert BIN.exists(), f"{BIN} missing: install the project (make test does) before running tests"


def test_a_piped_review_runs_to_the_summary_and_plan(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    lines = full_review_lines(load_model(Edition.SCHOOL))
    result = careers_bot_process(
        "chat", "--org", "Hill School", "--name", "Sam Rivers", stdin="\n".join(lines) + "\n", db=db
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Statement 1 of 32 - Theme 1" in out
    assert "Statement 32 of 32 - Theme 6" in out
    assert "That's every statement answered" in out
    assert "Summary – Careers Impact review" in out
    assert "Action plan – Careers Impact review" in out
    assert "1.5 Governance" in out
    assert "HT3/4 – SR / JHu" in out
    assert "23 priority action areas · 3 areas of strength" in out
    assert result.stderr == ""
    # Running it again shows the finished review and how to start the next.
    again = careers_bot("chat", "--org", "Hill School", db=db)
    assert again.returncode == 0
    assert "careers-bot chat --new" in again.stdout


def test_end_of_input_keeps_answers_and_the_next_run_resumes(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    lines = full_review_lines(load_model(Edition.COLLEGE), priorities=[])
    first = careers_bot(
        "chat",
        "--org",
        "Valley College",
        "--edition",
        "college",
        stdin="\n".join(lines[:9]) + "\n",
        db=db,
    )
    assert first.returncode == 0, first.stderr
    assert "End of input: everything answered so far is saved." in first.stdout
    assert "college / post-16 provider edition, 33 statements" in first.stdout
    second = careers_bot("chat", "--org", "Valley College", stdin="5\n2\n", db=db)
    assert second.returncode == 0, second.stderr
    assert "Welcome back: 2 of 33 statements answered. Carrying on at 1.3" in second.stdout
    assert "There is no level 5" in second.stdout
    assert "Level 2 saved for 1.3" in second.stdout


def test_ctrl_c_keeps_everything_answered(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [str(BIN), "--database-url", f"sqlite:///{db}", "chat", "--org", "Hill School"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdin is not None
    process.stdin.write("just me\n3\ndone\nnone\nneither\n2\n")
    process.stdin.flush()
    # Wait until the last answer has been taken, then interrupt while it waits for more.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _saved(db, "1.2"):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "everything answered so far is saved" in out.lower()
    resumed = careers_bot("chat", "--org", "Hill School", db=db)
    assert "Welcome back: 1 of 32 statements answered. Carrying on at 1.2" in resumed.stdout


def _saved(db: Path, statement_id: str) -> bool:
    import sqlite3

    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=1) as connection:
            row = connection.execute(
                "SELECT level FROM responses WHERE statement_id = ?", (statement_id,)
            ).fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] is not None


def test_model_export_prints_the_documented_json() -> None:
    result = careers_bot_process("model", "export", "--edition", "school")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["edition"] == "school"
    assert [t["number"] for t in data["themes"]] == [1, 2, 3, 4, 5, 6]
    assert data["themes"][2]["benchmarks"] == [2, 7]
    first = data["themes"][0]["statements"][0]
    assert set(first) == {"id", "title", "short_title", "levels"}
    assert first["levels"]["1"] == "There is a named Careers Leader."
    six_one = data["themes"][5]["statements"][0]
    assert six_one["id"] == "6.1"
    assert six_one["levels"]["1"] is None
    assert sum(len(t["statements"]) for t in data["themes"]) == 32
    listed = [
        level
        for theme in data["themes"]
        for statement in theme["statements"]
        for level in statement["levels"].values()
        if level and "\n- " in level
    ]
    assert listed, "bullet lists are exported as '- ' lines"


def test_model_show_prints_one_statement() -> None:
    result = careers_bot("model", "show", "3.4", "--edition", "college")
    assert result.returncode == 0, result.stderr
    assert "(applicable for 16-18 learners <25 with EHCP)" in " ".join(result.stdout.split())
    assert "Level 4" in result.stdout
    missing = careers_bot("model", "show", "7.1")
    assert missing.returncode == 1
    assert "no statement '7.1'" in missing.stdout


# ----- exports and term dates ----------------------------------------------------------------

ICS = Path(__file__).parent / "fixtures" / "ics"


@pytest.fixture(scope="module")
def reviewed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding Hill School's complete review (seed 003's answers)."""
    db = tmp_path_factory.mktemp("reviewed") / "bot.sqlite3"
    lines = full_review_lines(load_model(Edition.SCHOOL))
    result = careers_bot(
        "chat", "--org", "Hill School", "--name", "Sam Rivers", stdin="\n".join(lines) + "\n", db=db
    )
    assert result.returncode == 0, result.stderr
    return db


def test_export_writes_word_and_excel_documents(reviewed_db: Path, tmp_path: Path) -> None:
    import docx
    import openpyxl

    word = tmp_path / "plan.docx"
    result = careers_bot(
        "export", "--org", "Hill School", "--format", "docx", "--out", str(word), db=reviewed_db
    )
    assert result.returncode == 0, result.stderr
    document = docx.Document(str(word))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings[0].startswith("Careers Leadership action plan and summary - Hill School - ")
    cells = {cell.text for table in document.tables for row in table.rows for cell in row.cells}
    assert "1.5 Governance" in cells
    # "By when" (with its real date) and "Who" are their own columns, as in seed 003.
    assert any(text.startswith("HT3/4 (") for text in cells)
    assert "SR / JHu" in cells
    assert len(document.inline_shapes) == 1  # the maturity chart

    excel = tmp_path / "plan.xlsx"
    result = careers_bot(
        "export", "--org", "Hill School", "--format", "xlsx", "--out", str(excel), db=reviewed_db
    )
    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(excel)
    assert {"Summary", "Actions"} <= set(book.sheetnames)
    assert book["Actions"].max_row == 24  # header and 23 actions


def test_export_json_to_standard_output(reviewed_db: Path) -> None:
    result = careers_bot_process(
        "export", "--org", "Hill School", "--format", "json", "--out", "-", db=reviewed_db
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["organisation"] == "Hill School"
    assert len(data["summary"]) == 32
    assert [a["statement_id"] for a in data["actions"]][:3] == ["1.2", "1.3", "1.6"]
    assert data["actions"][0]["due_date"] is not None


def test_export_for_an_unknown_organisation_says_how_to_start(tmp_path: Path) -> None:
    result = careers_bot(
        "export", "--org", "Nowhere High", "--format", "csv", db=tmp_path / "empty.sqlite3"
    )
    assert result.returncode == 1
    assert "No organisation called 'Nowhere High'" in result.stdout


def test_terms_set_show_and_refuse(reviewed_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.sqlite3"  # the module's database stays as other tests expect it
    shutil.copy(reviewed_db, db)
    dates = [
        "HT1", "2026-09-02", "2026-10-23", "HT2", "2026-11-02", "2026-12-18",
        "HT3", "2027-01-05", "2027-02-12", "HT4", "2027-02-22", "2027-03-26",
        "HT5", "2027-04-12", "2027-05-28", "HT6", "2027-06-07", "2027-07-21",
    ]  # fmt: skip
    result = careers_bot_process(
        "terms", "set", "--org", "Hill School", "--year", "2026/27", *dates, db=db
    )
    assert result.returncode == 0, result.stderr
    assert "Saved term dates for 2026/27." in result.stdout
    shown = careers_bot("terms", "show", "--org", "Hill School", "--year", "2026/27", db=db)
    assert "Wed 21 Jul 2027" in shown.stdout
    assert "this organisation" in shown.stdout
    assert "England default" not in shown.stdout

    bad = [
        (dates[:15], "Give all six half-terms"),
        ([*dates[:16], "2027-07-40", *dates[17:]], "HT6: 2027-07-40 is not a date"),
        ([*dates[:4], "2026-10-01", *dates[5:]], "overlap"),
    ]
    for words, says in bad:
        refused = careers_bot(
            "terms", "set", "--org", "Hill School", "--year", "2026/27", *words, db=db
        )
        assert refused.returncode == 1
        assert says in " ".join(refused.stdout.split())
        assert "Nothing was changed." in refused.stdout
    still = careers_bot("terms", "show", "--org", "Hill School", "--year", "2026/27", db=db)
    assert still.stdout == shown.stdout


def test_terms_import_from_ics_and_a_malformed_file(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    careers_bot("chat", "--org", "Hill School", stdin="just me\n", db=db)
    result = careers_bot(
        "terms", "import", "--org", "Hill School", str(ICS / "half_terms.ics"), db=db
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Saved term dates for 2025/26" in result.stdout
    before = careers_bot("terms", "show", "--org", "Hill School", db=db).stdout
    for name in ("not_ical.ics", "four_periods.ics", "missing_dtstart.ics"):
        refused = careers_bot("terms", "import", "--org", "Hill School", str(ICS / name), db=db)
        assert refused.returncode == 1, name
        assert name in refused.stdout
        assert "Nothing was changed." in refused.stdout
    after = careers_bot("terms", "show", "--org", "Hill School", db=db).stdout
    assert after == before


def test_remind_digest_and_outbox_by_hand(reviewed_db: Path, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "copy.sqlite3"
    shutil.copy(reviewed_db, db)
    dry = careers_bot_process("remind", "--as-of", "2027-01-29T08:00", "--dry-run", db=db)
    assert dry.returncode == 0, dry.stderr
    assert "Hill School: 9 due" in dry.stdout
    assert "Your careers action is due in two weeks" in dry.stdout
    printed = careers_bot("digest", "--org", "Hill School", "--as-of", "2027-02-01T08:00", db=db)
    assert printed.returncode == 0, printed.stderr
    assert "Careers weekly digest – Hill School – week of Mon 1 Feb 2027" in printed.stdout
    assert "Due this half-term (by Fri 12 Feb 2027)" in printed.stdout
    assert "The outbox is empty." in careers_bot("outbox", "--org", "Hill School", db=db).stdout
    sent = careers_bot("remind", "--as-of", "2027-01-29T08:00", db=db)
    assert "Recorded 9, sent 9 (9 to the outbox)" in sent.stdout
    again = careers_bot("remind", "--as-of", "2027-01-29T08:00", db=db)
    assert "Recorded 0, sent 0" in again.stdout
    once = careers_bot(
        "digest", "--org", "Hill School", "--as-of", "2027-02-01T09:00", "--send", db=db
    )
    assert "Sent this week's digest." in once.stdout
    twice = careers_bot(
        "digest", "--org", "Hill School", "--as-of", "2027-02-01T10:00", "--send", db=db
    )
    assert "This week's digest was sent already." in twice.stdout
    outbox = careers_bot("outbox", "--org", "Hill School", db=db).stdout
    assert outbox.count("Your careers action is due in two weeks") == 8
    assert "Careers weekly digest" in outbox
    bad = careers_bot("remind", "--as-of", "next tuesday", db=db)
    assert bad.returncode == 1
    assert "write it like 2026-02-02T08:00" in bad.stdout


def test_an_admin_lists_and_deletes_an_organisation(reviewed_db: Path, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    db = tmp_path / "copy.sqlite3"
    shutil.copy(reviewed_db, db)
    listed = careers_bot_process("org", "list", db=db)
    assert "Hill School" in listed.stdout
    refused = careers_bot("org", "delete", "--org", "Hill School", db=db)
    assert refused.returncode == 1
    assert "Run again with --yes" in refused.stdout
    deleted = careers_bot("org", "delete", "--org", "Hill School", "--yes", db=db)
    assert deleted.returncode == 0, deleted.stderr
    with sqlite3.connect(db) as connection:
        for table in (
            "organisations",
            "reviews",
            "responses",
            "actions",
            "people",
            "evidence_links",
        ):
            assert connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table


def test_one_login_reviews_for_two_schools(tmp_path: Path) -> None:
    """A Careers Hub adviser at one terminal: each school keeps its own review."""
    db = tmp_path / "bot.sqlite3"
    hill = careers_bot("chat", "--org", "Hill School", stdin="just me\n3\n", db=db)
    valley = careers_bot(
        "chat", "--org", "Valley College", "--edition", "college", stdin="just me\n1\n", db=db
    )
    assert hill.returncode == valley.returncode == 0, hill.stderr + valley.stderr
    assert "Level 1 saved for 1.1" in valley.stdout
    again = careers_bot("chat", "--org", "Hill School", db=db)
    assert "Welcome back: 0 of 32 statements answered. Carrying on at 1.1" in again.stdout
    assert "Your answer: level 3" in again.stdout  # Hill's answer, not Valley's level 1


# ----- issue 10: quiet days, dates, actions, the terminal -----------------------------------

# 2026/27 as a council publishes it, typed the three ways people write dates: half-term
# 15-19 Feb 2027 sits between HT3 and HT4.
COUNCIL_2026_27 = [
    "HT1", "2/9/2026", "23/10/2026", "HT2", "02/11/2026", "18/12/2026",
    "HT3", "5/1/2027", "12/02/2027", "HT4", "2027-02-22", "26/03/2027",
    "HT5", "12/4/2027", "28/5/2027", "HT6", "7/6/2027", "21/07/2027",
]  # fmt: skip


@pytest.fixture
def council_db(reviewed_db: Path, tmp_path: Path) -> Path:
    """A copy of the complete review with the council's 2026/27 term dates."""
    import shutil

    db = tmp_path / "council.sqlite3"
    shutil.copy(reviewed_db, db)
    result = careers_bot(
        "terms", "set", "--org", "Hill School", "--year", "2026/27", *COUNCIL_2026_27, db=db
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return db


def test_reminders_and_digests_by_hand_keep_weekends_and_holidays(council_db: Path) -> None:
    db = council_db
    shown = careers_bot("terms", "show", "--org", "Hill School", "--year", "2026/27", db=db)
    assert "Wed 2 Sep 2026" in shown.stdout  # 2/9/2026 is 2 September
    assert "Fri 12 Feb 2027" in shown.stdout and "Mon 22 Feb 2027" in shown.stdout

    dry = careers_bot("remind", "--as-of", "2027-02-16T08:00", "--dry-run", db=db)
    assert "Nothing would be sent now: Tue 16 Feb 2027 is in the school holiday" in " ".join(
        dry.stdout.split()
    )
    holiday = careers_bot("remind", "--as-of", "2027-02-16T08:00", db=db)
    assert holiday.returncode == 0, holiday.stderr
    said = " ".join(holiday.stdout.split())
    assert "Nothing sent: Tue 16 Feb 2027 is in the school holiday between HT3 2026/27" in said
    assert "careers-bot remind --force" in said
    assert "Recorded 0, sent 0" in said
    digest = careers_bot(
        "digest", "--org", "Hill School", "--send", "--as-of", "16/2/2027 09:00", db=db
    )
    assert "Nothing sent: Tue 16 Feb 2027 is in the school holiday" in " ".join(
        digest.stdout.split()
    )
    weekend = careers_bot("remind", "--as-of", "13/02/2027 10:00", db=db)
    assert "Sat 13 Feb 2027 is a weekend" in weekend.stdout
    assert "The outbox is empty." in careers_bot("outbox", "--org", "Hill School", db=db).stdout

    forced = careers_bot("remind", "--as-of", "2027-02-16T08:00", "--force", db=db)
    assert "Recorded 8, sent 8 (8 to the outbox)" in forced.stdout
    sent = careers_bot(
        "digest", "--org", "Hill School", "--send", "--as-of", "16/02/2027", "--force", db=db
    )
    assert "Sent this week's digest." in sent.stdout
    outbox = careers_bot("outbox", "--org", "Hill School", db=db).stdout
    assert outbox.count("Your careers action is due this week") == 8
    assert "Careers weekly digest" in outbox


def test_dates_are_read_day_first_and_a_wrong_one_is_named(council_db: Path) -> None:
    for as_of in ("1/2/2027 08:00", "01/02/2027T08:00", "2027-02-01T08:00"):
        printed = careers_bot("digest", "--org", "Hill School", "--as-of", as_of, db=council_db)
        assert printed.returncode == 0, as_of
        assert "week of Mon 1 Feb 2027" in printed.stdout, as_of
    bad = careers_bot("remind", "--as-of", "31/02/2027", "--dry-run", db=council_db)
    assert bad.returncode == 1
    assert "31/02/2027 is not a date" in bad.stdout
    wrong = [*COUNCIL_2026_27[:1], "31/02/2027", *COUNCIL_2026_27[2:]]
    refused = careers_bot(
        "terms", "set", "--org", "Hill School", "--year", "2026/27", *wrong, db=council_db
    )
    assert refused.returncode == 1
    assert "HT1: 31/02/2027 is not a date" in refused.stdout
    assert "Invalid isoformat" not in refused.stdout


def test_action_commands_keep_every_link_and_say_how(reviewed_db: Path, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "copy.sqlite3"
    shutil.copy(reviewed_db, db)
    typed = [
        "progress 1 Shared with governors https://a.example/x and minutes https://b.example/y",
        "action 1",
        "move 1",
        "action 99999999999999999999",
        "quit",
    ]
    result = careers_bot("chat", "--org", "Hill School", stdin="\n".join(typed) + "\n", db=db)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.replace("│", " ").split())
    assert "Noted progress on action #1" in out
    assert "Shared with governors; minutes https://b.example/y (https://a.example/x)" in out
    assert "Say when it is due now, e.g. 'move 1 to HT5'" in out
    assert "is not a deadline I know" not in out
    assert "Traceback" not in result.stdout + result.stderr
    assert "by Sam Rivers" in out  # the name given before, never the login


def test_a_completed_review_opens_on_a_short_summary(reviewed_db: Path) -> None:
    result = careers_bot("chat", "--org", "Hill School", db=reviewed_db)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) < 15, result.stdout
    out = " ".join(result.stdout.split())
    assert "is complete" in out
    assert "32 of 32 answered · 23 priority action areas · 3 areas of strength" in out
    for command in ("'summary'", "'plan'", "'go 2.3'"):
        assert command in out
    assert "careers-bot chat --new" in out
    shown = careers_bot("chat", "--org", "Hill School", stdin="summary\n", db=reviewed_db)
    assert "Summary – Careers Impact review" in shown.stdout


def test_enter_takes_the_bracketed_default_and_the_login_is_never_a_name(tmp_path: Path) -> None:
    import getpass

    db = tmp_path / "bot.sqlite3"
    result = careers_bot("chat", "--org", "Hill School", stdin="\n3\n\n\nneither\n", db=db)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "or 'just me'. [just me] > (just me) Taking part: You." in out  # Enter took it
    assert f"Taking part: {getpass.getuser()}" not in out  # piped, no --name: never the login
    assert "[done] > (done) Any note" in out
    assert "[none] > (none) Is this" in out
    assert "Saved 1.1 Distributed careers leadership: level 3, neither." in out
    assert "(1 | 2 | 3 | 4) > 3" in out  # a list of answers is not a default
    named = careers_bot(
        "chat", "--org", "Hill School", "--name", "Ada Lovelace", stdin="help\n", db=db
    )
    assert named.returncode == 0, named.stderr
    helped = careers_bot("chat", "--help")
    assert "The computer's login name is never used" in " ".join(helped.stdout.split())


def test_long_titles_wrap_instead_of_being_cut(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    env_80 = careers_bot("chat", "--org", "Hill School", stdin="just me\n", db=db)
    out = " ".join(env_80.stdout.split())
    assert "…" not in env_80.stdout
    assert (
        "Theme 1: Careers Leadership, vision and intent, and planning for development "
        "(Gatsby Benchmark 1)" in out
    )
    assert "1.1 Careers leadership and distributed leadership of careers" in out


def test_stored_escape_sequences_are_not_replayed(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    note = "Agreed \x1b[2J\x1b]0;pwned\x07with SLT"
    typed = ["just me", "3", "done", note, "neither", "go 1.1", "quit"]
    result = careers_bot("chat", "--org", "Hill School", stdin="\n".join(typed) + "\n", db=db)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Agreed with SLT" in " ".join(result.stdout.split())


# ----- Ctrl-C and the terminal's width, in a real pseudo-terminal -----------------------------


def _pty_chat(db: Path, *args: str, columns: int = 150) -> tuple[subprocess.Popen[bytes], int]:
    import fcntl
    import pty
    import struct
    import termios

    master, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    env["NO_COLOR"] = "1"
    process = subprocess.Popen(
        [str(BIN), "--database-url", f"sqlite:///{db}", "chat", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        close_fds=True,
    )
    os.close(child)
    return process, master


def _read_pty(master: int, until: float, stop: str | None = None) -> str:
    """What the program printed (escape codes removed), up to `until` or until `stop` shows."""
    import re
    import select

    chunks: list[bytes] = []
    while time.monotonic() < until:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the program has exited and closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))
        if stop is not None and stop in text:
            return text.replace("\r\n", "\n")
    text = b"".join(chunks).decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n")


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_at_a_terminal_stops_at_once_with_the_answer_saved(
    tmp_path: Path, presses: int
) -> None:
    db = tmp_path / "bot.sqlite3"
    process, master = _pty_chat(db, "--org", "Hill School", "--name", "Sam Rivers")
    try:
        _read_pty(master, time.monotonic() + 60, stop="[just me]")
        os.write(master, b"just me\n3\ndone\nnone\nneither\n")
        shown = _read_pty(master, time.monotonic() + 60, stop="Statement 2 of 32")
        assert "Statement 2 of 32" in shown
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _saved(db, "1.1"):
            time.sleep(0.1)
        for _ in range(presses):
            process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        started = time.monotonic()
        out = _read_pty(master, time.monotonic() + 10, stop="run it again to resume")
        assert process.wait(timeout=10) == 130
        assert time.monotonic() - started < 5  # at once, not after the next Enter
        out += _read_pty(master, time.monotonic() + 1)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert "Traceback" not in out
    assert "Everything answered so far is saved" in out
    resumed = careers_bot("chat", "--org", "Hill School", db=db)
    assert "Welcome back: 1 of 32 statements answered. Carrying on at 1.2" in resumed.stdout


def test_a_terminal_wraps_to_its_width_and_asks_a_name_once(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    process, master = _pty_chat(db, "--org", "Hill School", columns=150)
    try:
        asked = _read_pty(master, time.monotonic() + 60, stop="[You]")
        assert "What is your name, as it should appear in the review?" in asked
        os.write(master, b"Nadia Rahman\n")
        _read_pty(master, time.monotonic() + 60, stop="[just me]")
        os.write(master, b"\n")
        out = _read_pty(master, time.monotonic() + 60, stop="Statement 1 of 32")
        os.write(master, b"quit\n")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert "Taking part: Nadia Rahman." in out
    theme = (
        "Theme 1: Careers Leadership, vision and intent, and planning for development "
        "(Gatsby Benchmark 1)"
    )
    assert any(theme in line for line in out.splitlines()), out  # one line at 150 columns
    again = careers_bot("chat", "--org", "Hill School", stdin="help\n", db=db)
    assert "What is your name" not in again.stdout  # asked once, then remembered


def test_a_new_review_leaves_export_on_the_completed_one_and_reviews_lists_both(
    reviewed_db: Path, tmp_path: Path
) -> None:
    """Issue 10: starting the next review does not replace the agreed plan in exports."""
    db = tmp_path / "bot.sqlite3"
    shutil.copy(reviewed_db, db)
    started = careers_bot(
        "chat", "--org", "Hill School", "--name", "Sam Rivers", "--new",
        stdin="just me\n3\n", db=db,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    listed = careers_bot_process("reviews", "--org", "Hill School", db=db)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if "│ 1 " in line or "│ 2 " in line]
    assert "completed" in lines[0] and "32 of 32" in lines[0]
    assert "in progress" in lines[1] and "1 of 32" in lines[1]
    latest = careers_bot("export", "--org", "Hill School", "--format", "json", "--out", "-", db=db)
    assert latest.returncode == 0, latest.stderr
    data = json.loads(latest.stdout)
    assert len(data["summary"]) == 32
    assert all(row["level"] is not None for row in data["summary"])
    assert len(data["actions"]) == 23
    first = careers_bot(
        "export", "--org", "Hill School", "--review", "1", "--format", "json", "--out", "-", db=db
    )
    assert json.loads(first.stdout) == data


def test_a_paused_review_opened_again_asks_one_question_and_takes_the_answer(
    tmp_path: Path,
) -> None:
    """Seen by running `careers-bot chat` twice: paused at the start, the review said
    "Starting" and asked who takes part, then refused the answer as "paused"; paused half-way
    through a statement, it asked for a level to change the answer and for the note at once,
    and a level typed there became the note."""
    db = tmp_path / "bot.sqlite3"
    careers_bot("chat", "--org", "Hill School", stdin="pause\n", db=db)
    again = careers_bot("chat", "--org", "Hill School", stdin="just me\n3\n", db=db)
    assert again.returncode == 0, again.stderr
    assert "This review is paused" not in again.stdout
    assert "Level 3 saved for 1.1" in again.stdout

    careers_bot("chat", "--org", "Hill School", stdin="done\npause\n", db=db)  # no evidence
    resumed = careers_bot("chat", "--org", "Hill School", stdin="Met with governors\n", db=db)
    assert resumed.returncode == 0, resumed.stderr
    assert "Your answer: level 3" in resumed.stdout  # the statement, for context
    assert "Reply with a level to change it" not in resumed.stdout
    assert resumed.stdout.count("(1 | 2 | 3 | 4)") == 0
    assert "Any note to keep with this answer?" in resumed.stdout
    assert "Note saved" in resumed.stdout or "Is this an area of strength" in resumed.stdout
