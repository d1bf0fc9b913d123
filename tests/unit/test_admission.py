"""Admission: webhook reservations, sockets with and without one, expiry, draining."""

from __future__ import annotations

from gateway.admission import RESERVATION_S, Admission


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_webhooks_cannot_promise_more_places_than_there_are() -> None:
    admission = Admission(2, Clock())
    assert admission.reserve("CA1") and admission.reserve("CA2")
    assert not admission.reserve("CA3")
    assert admission.reserve("CA1"), "Twilio retrying a webhook keeps its place"
    assert admission.at_capacity


def test_a_reserved_call_is_admitted_and_a_stranger_is_not() -> None:
    admission = Admission(2, Clock())
    admission.reserve("CA1")
    admission.reserve("CA2")
    assert admission.may_connect()
    assert not admission.admit("CAstranger"), "the free places are promised"
    assert admission.admit("CA1") and admission.admit("CA2")
    assert admission.live == 2 and not admission.may_connect()
    admission.leave()
    assert admission.live == 1 and not admission.at_capacity


def test_an_unused_reservation_lapses() -> None:
    clock = Clock()
    admission = Admission(1, clock)
    admission.reserve("CA1")
    assert not admission.admit("CA2")
    clock.now += RESERVATION_S + 1
    assert admission.admit("CA2")


def test_draining_takes_no_call() -> None:
    admission = Admission(4, Clock())
    admission.draining = True
    assert admission.at_capacity
    assert not admission.reserve("CA1")
    assert not admission.may_connect()
    assert not admission.admit("CA1")
