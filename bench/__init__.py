"""Benchmark harness: mfa-enforcer against Cloud Custodian on the same simulated (moto) account.

Not packaged into the Lambda (Chalice ships only app.py and chalicelib/). Entry point:
`python -m bench.run --sizes 100,1000,5000 --runs 3`; see bench/README.md.
"""
