"""Reports of runs: PNG plots (matplotlib, Agg) and comparison tables (Markdown and CSV).

- :mod:`imc.report.plots`: the plots of one run folder and the example images;
- :mod:`imc.report.tables`: the side-by-side comparison of runs (``imc compare``).
"""
