"""The command's options: the loaders' formats, and every option in the README's usage block."""



from fnnet.cli import main as cli
from tests.support import ROOT


def test_format_choices_are_the_loaders_formats():
    from fnnet import loaders

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command, formats in (("train", loaders.FORMATS), ("evaluate", loaders.FORMATS),
                             ("predict", loaders.FEATURE_FORMATS)):
        action = next(a for a in sub[command]._actions if a.dest == "format")
        assert tuple(action.choices) == formats


def test_the_readme_usage_block_lists_every_option():
    import re

    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The `fnnet` command", 1)[1].split("```", 2)[1]
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    for command, parser in sub.items():
        line = re.search(rf"^fnnet {command}\b.*?(?=^fnnet |\Z)", block, re.S | re.M)
        assert line, command
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in line.group(0), (command, flag)
