"""The generated code shipped in ferrotune/_proto matches proto/ferrotune/v1/ferrotune.proto."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from _support import SDK_DIR, pb, pb_grpc

SHIPPED = SDK_DIR / "ferrotune" / "_proto"
FILES = ("ferrotune_pb2.py", "ferrotune_pb2.pyi", "ferrotune_pb2_grpc.py")


class GeneratedCodeTest(unittest.TestCase):
    @unittest.skipUnless(importlib.util.find_spec("grpc_tools"), "grpcio-tools is not installed")
    def test_shipped_code_matches_the_proto(self):
        with tempfile.TemporaryDirectory() as out:
            env = dict(os.environ, PYTHON=sys.executable)
            subprocess.run(["bash", str(SDK_DIR / "generate.sh"), out], env=env, check=True)
            for name in FILES:
                fresh = Path(out, name).read_text()
                shipped = (SHIPPED / name).read_text()
                self.assertTrue(
                    fresh == shipped,
                    f"{SHIPPED / name} does not match proto/ferrotune/v1/ferrotune.proto: "
                    "run `PYTHON=.venv/bin/python3 sdk/python/generate.sh` (grpcio-tools at "
                    "the version of scripts/requirements-test.txt) and commit the result",
                )

    def test_the_package_holds_the_report_service(self):
        self.assertEqual(pb.ReportRequest.__module__, "ferrotune._proto.ferrotune_pb2")
        self.assertEqual(pb.DESCRIPTOR.name, "ferrotune/v1/ferrotune.proto")
        service = pb.DESCRIPTOR.services_by_name["ReportService"]
        self.assertEqual(
            [m.name for m in service.methods], ["Report", "ReportStream", "ShouldStop"]
        )
        self.assertTrue(hasattr(pb_grpc, "ReportServiceStub"))


if __name__ == "__main__":
    unittest.main()
