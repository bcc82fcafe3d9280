"""`python app.py` starts the arena with defaults, exactly like `arena serve`."""

from arena.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve"]))
