"""Adapters: thin boto3 and Slack wrappers that return plain data and decide nothing."""
