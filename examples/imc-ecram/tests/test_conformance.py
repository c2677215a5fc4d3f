"""Run imc's conformance suite on this backend: two lines."""

from imc_conformance import BackendTests


class TestEcram(BackendTests):
    backend = "ecram"
