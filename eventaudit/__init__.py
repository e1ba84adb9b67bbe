"""The Azure event audit log: ingestion, storage, queries and readers of the Functions app.

`function_app.py` (the Functions entry points) and `handlers/` (one module per event source) sit
beside this package at the app root; everything else the app runs is in here.
"""
