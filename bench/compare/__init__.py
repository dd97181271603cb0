"""LambdaRAG and LightRAG 1.5.7 side by side on one fake provider: ``bench/run``."""
