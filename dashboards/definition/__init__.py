"""The Python definition of Vigil's Grafana dashboards (grafana-foundation-sdk).

`make dashboards` (`python -m dashboards.definition`) writes them in English to dashboards/ and in
Russian to dashboards/ru/, each directory with the dashboard-linter `.lint` file of its exceptions;
`--check` only says which files differ. Strings live in `i18n.py`, the shared conventions in `kit.py`,
one module per dashboard.
"""
