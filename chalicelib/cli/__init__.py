"""The operator and admin command line (`mfa-enforcer`).

Never imported by the Lambdas: it is a second imperative shell around the same core
(service.run_scan, IamGateway, ParameterStore, the exemptions validator), driven by a person's
credentials instead of the execution role. rich is imported lazily, only where a table is drawn,
so it stays out of the Lambda's dependencies.
"""
