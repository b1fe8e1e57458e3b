"""``cause_of``: what a failed command's stderr says went wrong — its fatal:/error: lines, else
its first and last lines — never a lone line of advice."""

from cutover_tui.errors import cause_of

GIT_NO_DESTINATION = """fatal: No configured push destination.
Either specify the URL from the command-line or configure a remote repository using

    git remote add <name> <url>

and then push using the remote name

    git push <name>
"""

GIT_REJECTED = """remote: error: pushes to main are frozen
To /srv/git/app.git
 ! [remote rejected] main -> main (pre-receive hook declined)
error: failed to push some refs to '/srv/git/app.git'
hint: Updates were rejected because the remote contains work that you do not
"""


def test_fatal_and_error_lines_are_the_cause():
    assert cause_of(GIT_NO_DESTINATION) == "fatal: No configured push destination."
    assert cause_of(GIT_REJECTED) == ("remote: error: pushes to main are frozen / "
                                      "error: failed to push some refs to '/srv/git/app.git'")
    assert cause_of("pg_restore: error: input file appears to be a text format dump\n"
                    "pg_restore: hint: use psql") == \
        "pg_restore: error: input file appears to be a text format dump"
    assert cause_of("SET\npsql:<stdin>:12: ERROR:  relation \"roles\" does not exist\n") == \
        'psql:<stdin>:12: ERROR:  relation "roles" does not exist'


def test_otherwise_the_first_and_last_lines_without_advice():
    assert cause_of("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                    "ValueError: boom\n") == "Traceback (most recent call last): … ValueError: boom"
    assert cause_of("bash: line 1: nosuch: command not found\nhint: install it\n") == \
        "bash: line 1: nosuch: command not found"
    assert cause_of("") == "no output"
    assert cause_of("x" * 500).endswith("…") and len(cause_of("x" * 500)) == 300


def test_an_error_word_inside_a_sentence_is_not_a_cause_line():
    assert cause_of("checking for error: none found\nall good") == \
        "checking for error: none found … all good"
