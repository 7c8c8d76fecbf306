import logging

from slimbox.kernel.log import DeferredLogger, StderrLog


def test_messages_go_to_the_named_logger(caplog):
    log = DeferredLogger("slimbox")
    with caplog.at_level(logging.DEBUG, logger="slimbox"):
        log.debug("d %d", 1)
        log.info("i")
        log.warning("w %s", "x")
        log.error("e")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "d 1"), (logging.INFO, "i"), (logging.WARNING, "w x"), (logging.ERROR, "e")]
    assert log.logger() is logging.getLogger("slimbox")


def test_stderr_log_prints_messages_from_its_level_up(capsys):
    log = StderrLog(30)
    log.info("hidden %s", 1)
    log.warning("unsupported syscall %s -> ENOSYS", "foo(1)")
    log.error("plain")
    assert capsys.readouterr().err == "slimbox: unsupported syscall foo(1) -> ENOSYS\nslimbox: plain\n"


def test_stderr_log_appends_the_traceback_when_asked(capsys):
    log = StderrLog(10)
    try:
        raise KeyError("planted")
    except KeyError:
        log.debug("internal error", exc_info=True)
    err = capsys.readouterr().err
    assert err.startswith("slimbox: internal error\nTraceback (most recent call last):\n")
    assert err.rstrip().endswith("KeyError: 'planted'")
