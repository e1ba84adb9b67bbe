"""Provision the app on Azure Functions (Flex Consumption) and subscribe caches and stores to it, with az.

python -m deploy.provision --help
python -m deploy.subscribe --help
"""
