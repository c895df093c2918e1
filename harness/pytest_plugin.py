"""pytest plugin (registered through the ``pytest11`` entry point): scenarios as test items, fixtures.

Filled in by the reports/pytest issue; kept importable so the entry point never breaks pytest.
"""
