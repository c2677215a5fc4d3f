"""Device characterisation: measure what a backend does against what it declares.

- :func:`characterize`: pulse trains on a sample of cells; measured vs declared step,
  write noise, asymmetry, levels, read noise, switching probability (measure.py);
- :mod:`.analysis`: the binned step / noise statistics (also used by the table plugin's
  fit, ``imc_table.fit``, which turns a measured CSV into a preset: ``imc fit``);
- :mod:`.report`: the printed table, CSV / JSON files and the PNG plot.
"""

from .analysis import BinStats, Sweep, bin_statistics, records
from .measure import Characterisation, characterize

__all__ = ["BinStats", "Characterisation", "Sweep", "bin_statistics", "characterize", "records"]
