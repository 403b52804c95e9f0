import io

from specsync.cli.console import github_annotation, print_problems, use_colour
from specsync.model import Location, Problem


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_problems_print_sorted_by_file_and_line_with_a_count() -> None:
    out = io.StringIO()
    count = print_problems(
        [
            Problem(Location("b.yaml", 1, 1), "second file"),
            Problem(Location("a.yaml", 9, 3), "later line"),
            Problem(Location("a.yaml", 2, 5), "first"),
        ],
        stream=out,
        environ={},
    )
    assert count == 3
    assert out.getvalue().splitlines() == [
        "a.yaml:2:5: first",
        "a.yaml:9:3: later line",
        "b.yaml:1:1: second file",
        "3 problems in 2 files",
    ]


def test_github_actions_adds_escaped_annotations() -> None:
    out = io.StringIO()
    print_problems(
        [Problem(Location("m,1.yaml", 4, 2), "bad: 100%\nvalue")],
        stream=out,
        environ={"GITHUB_ACTIONS": "true"},
    )
    assert "::error file=m%2C1.yaml,line=4,col=2::bad: 100%25%0Avalue" in out.getvalue()
    assert github_annotation(Problem(Location("x.yaml"), "m")) == "::error file=x.yaml::m"


def test_colour_only_on_a_tty_and_never_with_no_color() -> None:
    assert use_colour(FakeTTY(), {}) is True
    assert use_colour(io.StringIO(), {}) is False
    assert use_colour(FakeTTY(), {"NO_COLOR": "1"}) is False
    out = FakeTTY()
    print_problems([Problem(Location("a.yaml", 1, 1), "x")], stream=out, environ={"NO_COLOR": "1"})
    assert "\x1b[" not in out.getvalue()
