"""Device characterisation and fitting: measure what a backend does, fit a device to data.

- :func:`characterize`: pulse trains on a sample of cells; measured vs declared step,
  write noise, asymmetry, levels, read noise, switching probability (measure.py);
- :mod:`.analysis`: the binned step / noise statistics both use;
- :func:`read_sweeps_csv` and :func:`fit_table`: measured pulse-response CSV to a
  table-driven device preset (fit.py);
- :mod:`.report`: the printed table, CSV / JSON files and the PNG plot.
"""

from .analysis import BinStats, Sweep, bin_statistics, records
from .fit import CsvError, FitResult, fit_csv, fit_table, read_sweeps_csv
from .measure import Characterisation, characterize

__all__ = [
    "BinStats", "Characterisation", "CsvError", "FitResult", "Sweep", "bin_statistics", "characterize",
    "fit_csv", "fit_table", "read_sweeps_csv", "records",
]
