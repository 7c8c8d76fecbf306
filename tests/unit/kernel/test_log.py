import logging

from slimbox.kernel.log import DeferredLogger


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
