"""Run every benchmark: `python -m bench` (or `make bench`)."""

from bench import turns

if __name__ == "__main__":
    turns.main()
