"""The one compiled part: the ingestor's payload-to-line-protocol pass (cloud/ingest/_lines.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler or
Python's headers the install goes on without it, and the ingestor uses its msgspec path
(`greenwire ingest run` logs which one it runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "greenwire.cloud.ingest._lines",
            ["cloud/ingest/_lines.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
