"""The frame every hvac client script of the end-to-end tests shares (test/store/hvac_*.py, test/store/ha/hvac_*.py):
Debian's hvac imported (or exit 3 with {"import_error"}, which the test turns into a skip, or a failure under CI),
its version, `step()` that records each call's facts or exception, and `report()` that prints the one JSON summary
{"hvac_version": ..., "steps": {name: {"ok": bool, ...facts}}} the test asserts. Nothing here asserts anything.
"""
import json
import sys
import traceback

try:
    import hvac  # noqa: F401 - re-exported for the scripts
    import hvac.exceptions  # noqa: F401
except ImportError as err:  # the test turns this into a skip (or a failure under CI)
    print(json.dumps({"import_error": str(err)}))
    sys.exit(3)

try:
    from importlib.metadata import version as _dist_version

    HVAC_VERSION = _dist_version("hvac")
except Exception:  # noqa: BLE001 - metadata missing is not fatal
    HVAC_VERSION = "unknown"

steps = {}


def step(name, fn):
    """Runs fn(); records its facts dict (ok=True) or the exception (ok=False). Returns the facts or None."""
    try:
        facts = fn() or {}
        steps[name] = dict(ok=True, **facts)
        return facts
    except Exception as err:  # noqa: BLE001 - every failure is data for the test
        steps[name] = {
            "ok": False,
            "exception": type(err).__name__,
            "message": str(err)[:300],
            "where": traceback.format_exc().strip().splitlines()[-3:-1],
        }
        return None


def report():
    """Prints the summary: exactly one JSON object on stdout."""
    print(json.dumps({"hvac_version": HVAC_VERSION, "steps": steps}, sort_keys=True))
