from fnnet.cli import run

run()
