from fnnet.cli.main import entry

entry()
