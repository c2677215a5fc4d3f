"""imc_conformance: contract tests any imc device backend can be run against by name."""

__version__ = "0.1.0"
