"""KFP-free business logic of sealtrain: every rule of the training contract lives here.

Nothing in this package imports kfp, so it is tested directly and reused by the components,
the CLI and the static pipeline verifier alike.
"""
