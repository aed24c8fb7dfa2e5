"""Run the benchmarks: `python -m bench [turns|sql|slack] [options]` (`make bench` runs all).

- turns: time per saved turn, the pure engine against the service on SQLite
- sql:   SQL statements and transactions per kind of turn (service and Slack HTTP)
- slack: Slack reply latency, lost answers and CPU per turn under 1/50/200 users,
         against a bare Bolt app in the same run
- faults: reminders and digests through kill -9, a locked database, Slack 429/500s and two
         replicas: messages lost and doubled per target
- sending: 1,000 reminders to 1,000 people against the same posts 100 in flight; SQL per
         delivery; the longest event-loop stall while a digest with its chart is sent
- hub:   weekly digests for 1,000 schools against a raw read of the same rows; a reminder
         sweep over 1k/10k/100k actions with 1% due, and its query plan
"""

import sys

from bench import faults, hub, sending, slack, sql, turns

COMMANDS = {
    "turns": turns.main,
    "sql": sql.main,
    "slack": slack.main,
    "faults": faults.main,
    "sending": sending.main,
    "hub": hub.main,
}

if __name__ == "__main__":
    name, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if name in ("-h", "--help"):
        print(__doc__)
    elif name:
        if name not in COMMANDS:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(COMMANDS)}")
        COMMANDS[name](rest)
    else:
        for command in COMMANDS.values():
            command([])
            print()
