"""moto_server with the two Auto Scaling lifecycle-action calls moto lacks.

spot-handler's test harness runs moto through this launcher. moto 5.2.1
answers CompleteLifecycleAction and RecordLifecycleActionHeartbeat with 500
NotImplemented and never fires lifecycle hooks, so this file ADDS the two
calls to moto's Auto Scaling responses (only where moto has no handler of its
own: a moto that implements them keeps its own) and a small test API:

  POST /spot-handler-lifecycle/actions  {"group","hook","instance","transition"}
       begins a lifecycle action on a hook moto knows (PutLifecycleHook) and
       returns {"token": ...}; the test then sends the lifecycle event itself.
  GET  /spot-handler-lifecycle/calls    every call of the two APIs, in order,
       with its time, token and answer.
  GET  /spot-handler-lifecycle/actions  every action and its state: pending,
       completed (with the result) or timed_out (no heartbeat within the
       hook's HeartbeatTimeout, or past its global timeout).

POST /moto-api/reset also drops these. Behaviour follows the Amazon EC2 Auto
Scaling API reference: the group and hook names are required, the action is
named by LifecycleActionToken or InstanceId, a result is CONTINUE or ABANDON,
and a call for no pending action is a ValidationError.
"""

import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import moto.server
from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import autoscaling_backends
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

PREFIX = "/spot-handler-lifecycle/"
GLOBAL_TIMEOUT_CAP = 172800  # 48 hours: the most a hook can hold an instance

_lock = threading.Lock()
_actions = {}  # token -> action dict
_calls = []


def _now():
    return time.time()


def _stamp(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def _expire(now):
    for a in _actions.values():
        if a["state"] != "pending":
            continue
        if now > a["last_heartbeat"] + a["timeout"] or now > a["started"] + a["global_timeout"]:
            a["state"] = "timed_out"
            a["result"] = a["default_result"]
            a["ended"] = now


def _public(a):
    out = dict(a)
    for k in ("started", "last_heartbeat", "ended"):
        if out.get(k) is not None:
            out[k] = _stamp(out[k])
    return out


def _find(group, hook, token, instance):
    for a in _actions.values():
        if a["state"] != "pending" or a["group"] != group or a["hook"] != hook:
            continue
        if (token and a["token"] == token) or (not token and instance and a["instance"] == instance):
            return a
    return None


def _handle(self, api):
    """Runs one of the added calls; records it, raises ValidationError like AWS."""
    group = self._get_param("AutoScalingGroupName")
    hook = self._get_param("LifecycleHookName")
    token = self._get_param("LifecycleActionToken")
    instance = self._get_param("InstanceId")
    result = self._get_param("LifecycleActionResult") if api == "CompleteLifecycleAction" else None
    now = _now()
    call = {"action": api, "time": _stamp(now), "group": group, "hook": hook, "token": token or "",
            "instance": instance or "", "result": result or "", "error": ""}
    with _lock:
        _expire(now)
        try:
            if not group or not hook:
                raise ValidationError("AutoScalingGroupName and LifecycleHookName are required")
            if not token and not instance:
                raise ValidationError("Either LifecycleActionToken or InstanceId is required")
            if api == "CompleteLifecycleAction" and result not in ("CONTINUE", "ABANDON"):
                raise ValidationError(f"LifecycleActionResult {result!r} is not CONTINUE or ABANDON")
            a = _find(group, hook, token, instance)
            if a is None:
                if token:
                    raise ValidationError(f"No active Lifecycle Action found with token {token}")
                raise ValidationError(f"No active Lifecycle Action found with instance ID {instance}")
            call["instance"] = a["instance"]
            call["token"] = a["token"]
            if api == "CompleteLifecycleAction":
                a["state"], a["result"], a["ended"] = "completed", result, now
            else:
                a["last_heartbeat"] = now
                a["heartbeats"] += 1
        except ValidationError as e:
            call["error"] = "ValidationError: " + e.message
            _calls.append(call)
            raise
        _calls.append(call)
    return EmptyResult()


def complete_lifecycle_action(self):
    return _handle(self, "CompleteLifecycleAction")


def record_lifecycle_action_heartbeat(self):
    return _handle(self, "RecordLifecycleActionHeartbeat")


def _add(name, fn):
    if hasattr(AutoScalingResponse, name):
        print(f"moto_lifecycle: moto implements {name}: keeping moto's own", flush=True)
        return
    setattr(AutoScalingResponse, name, fn)
    print(f"moto_lifecycle: added {name} to moto's Auto Scaling (moto has none)", flush=True)


def _begin(body):
    req = json.loads(body or b"{}")
    for k in ("group", "hook", "instance", "transition"):
        if not req.get(k):
            return 400, {"error": f"{k} is required"}
    account, region = req.get("account", "123456789012"), req.get("region", "us-east-1")
    hooks = autoscaling_backends[account][region].lifecycle_hooks
    h = hooks.get(f"{req['group']}_{req['hook']}")
    if h is None:
        return 400, {"error": f"no lifecycle hook {req['hook']} on group {req['group']} (PutLifecycleHook first)"}
    now = _now()
    token = req.get("token") or str(uuid.uuid4())
    a = {"token": token, "group": req["group"], "hook": req["hook"], "instance": req["instance"],
         "transition": req["transition"], "timeout": int(h.heartbeat_timeout),
         "global_timeout": min(100 * int(h.heartbeat_timeout), GLOBAL_TIMEOUT_CAP),
         "default_result": h.default_result, "started": now, "last_heartbeat": now,
         "heartbeats": 0, "state": "pending", "result": "", "ended": None}
    with _lock:
        _actions[token] = a
    return 200, {"token": token}


class _Dispatcher(moto.server.DomainDispatcherApplication):
    """moto's dispatcher, serving the test API and clearing it on reset."""

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/moto-api/reset" and method == "POST":
            with _lock:
                _actions.clear()
                _calls.clear()
        if not path.startswith(PREFIX):
            return super().__call__(environ, start_response)
        what = path[len(PREFIX):]
        with _lock:
            _expire(_now())
            if what == "calls" and method == "GET":
                status, out = 200, list(_calls)
            elif what == "actions" and method == "GET":
                status, out = 200, [_public(a) for a in _actions.values()]
            else:
                status, out = 404, {"error": f"{method} {path}: not part of the lifecycle test API"}
        if what == "actions" and method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            status, out = _begin(environ["wsgi.input"].read(size))
        body = json.dumps(out).encode()
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


if __name__ == "__main__":
    _add("complete_lifecycle_action", complete_lifecycle_action)
    _add("record_lifecycle_action_heartbeat", record_lifecycle_action_heartbeat)
    moto.server.DomainDispatcherApplication = _Dispatcher
    moto.server.main(sys.argv[1:])
