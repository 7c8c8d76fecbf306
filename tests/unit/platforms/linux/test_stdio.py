"""platforms/linux/stdio.py: the terminal requests are the host's."""

import termios

from slimbox.platforms.linux import stdio


def test_the_terminal_request_numbers_are_those_of_the_termios_module():
    assert (stdio.TCGETS, stdio.TCSETS, stdio.TCSETSW, stdio.TCSETSF, stdio.TIOCGWINSZ, stdio.FIONREAD) == (
        termios.TCGETS, termios.TCSETS, termios.TCSETSW, termios.TCSETSF, termios.TIOCGWINSZ, termios.FIONREAD)
