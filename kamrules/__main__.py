from kamrules.cli import run

run()
