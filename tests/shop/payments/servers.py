"""Small real HTTP servers for payment tests: the sandbox (our own WSGI app on a free port) and a
notification recorder standing in for a merchant's notify endpoint."""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from dataclasses import dataclass

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


class BackgroundServer:
    """A threaded WSGI server on 127.0.0.1:<free port>, serving in a daemon thread."""

    def __init__(self, app):
        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=True)
        self.httpd.set_app(app)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="test-wsgi-server", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class NotificationRecorder:
    """A WSGI app that records every request and answers with the next queued status (200 once the
    queue is empty), like a merchant endpoint that may fail a few times before accepting."""

    def __init__(self, *statuses: int):
        self.received: list[ReceivedRequest] = []
        self._statuses = deque(statuses)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[len("HTTP_") :].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        with self._arrived:
            self.received.append(ReceivedRequest(environ.get("PATH_INFO", ""), headers, body))
            status = self._statuses.popleft() if self._statuses else 200
            self._arrived.notify_all()
        answer = b'{"code":"SUCCESS","message":"OK"}' if status < 300 else b'{"code":"FAIL","message":"busy"}'
        start_response(
            f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
        )
        return [answer]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.received)}")
                self._arrived.wait(left)
            return list(self.received)


class SandboxHandle:
    """What the `wechatpay_sandbox` fixture yields.

    `url` is the sandbox gateway (already set as WECHATPAY["GATEWAY"] for the test, so
    get_payment_provider() talks to it). Refunds stay PROCESSING until `refund_notification()`
    completes them (set `auto_refund_seconds(0)` to let the sandbox complete and deliver them itself).
    """

    def __init__(self, server: BackgroundServer, settings):
        self.server = server
        self.url = f"{server.url}/sandbox/wechatpay"
        self._settings = settings
        config = copy.deepcopy(settings.WECHATPAY)
        config["GATEWAY"] = self.url
        config["SANDBOX_AUTO_REFUND_SECONDS"] = None
        config["SANDBOX_AUTO_TRANSFER_SECONDS"] = None
        settings.WECHATPAY = config

    def configure(self, **changes) -> None:
        """Change WECHATPAY keys for this test (e.g. NOTIFY_URL=recorder URL)."""
        config = copy.deepcopy(self._settings.WECHATPAY)
        config.update(changes)
        self._settings.WECHATPAY = config

    def auto_refund_seconds(self, seconds: float | None) -> None:
        self.configure(SANDBOX_AUTO_REFUND_SECONDS=seconds)

    def transaction(self, reference: str) -> dict | None:
        from shop.payments.sandbox import state

        return state.transaction_find(reference)

    def refund(self, out_refund_no: str) -> dict | None:
        from shop.payments.sandbox import state

        return state.refund_get(out_refund_no)

    def confirm(
        self, reference: str, *, deliver: bool = False, force: bool = False, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The shopper pays (prepay_id or out_trade_no). Returns the signed payment notification;
        with deliver=True it is also POSTed to the notify_url given at prepay. `force` pays even a
        closed or expired transaction (money arriving after the order was cancelled)."""
        from shop.payments.sandbox import notify, state

        transaction, _ = state.transaction_confirm(reference, force=force)
        headers, body = state.payment_notification(transaction, timestamp=timestamp)
        if deliver:
            notify.deliver(transaction["notify_url"], headers, body)
        return headers, body

    def refund_status(self, out_refund_no: str, status: str) -> dict:
        """Move a refund at the sandbox (ABNORMAL, PROCESSING, SUCCESS, CLOSED) without notifying."""
        from shop.payments.sandbox import state

        return state.refund_set_status(out_refund_no, status)

    def refund_notification(
        self, out_refund_no: str, *, deliver: bool = False, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The refund's money went back: it becomes SUCCESS and its signed notification is returned
        (and POSTed to the refund notify_url with deliver=True)."""
        from shop.payments.sandbox import notify, state

        refund = state.refund_complete(out_refund_no)
        headers, body = state.refund_notification(refund, timestamp=timestamp)
        if deliver:
            notify.deliver(refund["notify_url"], headers, body)
        return headers, body

    # --- merchant transfers (商家转账, shop/payments/sandbox/transfers.py) ---

    def transfer_plan(
        self, *, outcome: str = "SUCCESS", delay_seconds: float = 0.0, openid: str = ""
    ) -> None:
        """What the next transfers do: finish as SUCCESS, FAIL or stay PROCESSING; answer late."""
        from shop.payments.sandbox import transfers

        transfers.transfer_plan(outcome=outcome, delay_seconds=delay_seconds, openid=openid)

    def transfer(self, out_bill_no: str) -> dict | None:
        from shop.payments.sandbox import transfers

        return transfers.transfer_get(out_bill_no)

    def transfer_finish(
        self, out_bill_no: str, outcome: str | None = None, *, deliver: bool = False
    ) -> tuple[dict[str, str], bytes]:
        """Finish a transfer (its planned outcome, or `outcome`); return its signed notification,
        POSTed to the notify_url given at creation with deliver=True."""
        from shop.payments.sandbox import notify, transfers

        bill = transfers.transfer_finish(out_bill_no, outcome)
        headers, body = transfers.transfer_notification(bill)
        if deliver:
            notify.deliver(bill["notify_url"], headers, body)
        return headers, body
