"""Shared by the SDK's tests: the package under test and a fake ReportService server."""

from __future__ import annotations

import os
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import List, Optional, Tuple

SDK_DIR = Path(__file__).resolve().parent.parent

# gRPC core logs connection events (a GOAWAY when a test server stops) at INFO.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

try:  # the installed package (scripts/test.sh installs it), else the source tree
    import ferrotune
except ImportError:
    sys.path.insert(0, str(SDK_DIR))
    import ferrotune

import grpc
from ferrotune._proto import ferrotune_pb2 as pb
from ferrotune._proto import ferrotune_pb2_grpc as pb_grpc

# The folder to put on PYTHONPATH so a subprocess imports this same package.
PACKAGE_PARENT = str(Path(ferrotune.__file__).resolve().parent.parent)


class FakeReportService(pb_grpc.ReportServiceServicer):
    """Records what arrives. A stream is committed whole or not at all (as a transactional
    server would), so counting what arrived counts what was delivered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: List[pb.ReportRequest] = []
        self.metadata: List[dict] = []  # per call
        self.calls: List[str] = []  # "Report", "ReportStream", "ShouldStop", in order
        self.stream_sizes: List[int] = []
        self.fail_codes: List[grpc.StatusCode] = []  # the next calls fail with these
        self.stop_in_reports = False
        self.stop_in_should_stop = False
        self.stop_reason = ""
        self.should_stop_requests: List[pb.TrialRef] = []

    def _enter(self, name: str, context) -> Optional[grpc.StatusCode]:
        with self.lock:
            self.calls.append(name)
            self.metadata.append(dict(context.invocation_metadata()))
            return self.fail_codes.pop(0) if self.fail_codes else None

    def Report(self, request, context):
        code = self._enter("Report", context)
        if code is not None:
            context.abort(code, "injected failure")
        with self.lock:
            self.reports.append(request)
        return pb.ReportResponse(accepted=1, should_stop=self.stop_in_reports)

    def ReportStream(self, request_iterator, context):
        code = self._enter("ReportStream", context)
        if code is not None:
            context.abort(code, "injected failure")
        got = list(request_iterator)
        with self.lock:
            self.reports.extend(got)
            self.stream_sizes.append(len(got))
        return pb.ReportResponse(accepted=len(got), should_stop=self.stop_in_reports)

    def ShouldStop(self, request, context):
        code = self._enter("ShouldStop", context)
        if code is not None:
            context.abort(code, "injected failure")
        with self.lock:
            self.should_stop_requests.append(request)
        return pb.ShouldStopResponse(
            should_stop=self.stop_in_should_stop,
            reason=self.stop_reason if self.stop_in_should_stop else "",
        )

    def count(self) -> int:
        with self.lock:
            return len(self.reports)


def start_server(
    service: Optional[FakeReportService] = None,
    port: int = 0,
    credentials: Optional[grpc.ServerCredentials] = None,
    host: str = "127.0.0.1",
) -> Tuple[grpc.Server, FakeReportService, int]:
    service = service or FakeReportService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_ReportServiceServicer_to_server(service, server)
    address = f"{host}:{port}"
    if credentials is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, credentials)
    server.start()
    return server, service, bound


def subprocess_env(**extra: str) -> dict:
    """The environment for a trial subprocess: none of ferrotune's variables but `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERROTUNE_")}
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
