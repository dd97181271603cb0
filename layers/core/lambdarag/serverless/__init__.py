"""The serverless runtime's AWS pieces: Step Functions runner, S3 drop folder, secrets.

Imported by the Lambda entry points in functions/ and, lazily, by the engine when
LAMBDARAG_STATE_MACHINE_ARN is set; the local runtime never loads this package.
"""
