"""Shared bootstrap for the benchmarks: an Odoo environment on an existing database.

Each benchmark opens one transaction and rolls it back at the end, so the database is left as
it was and can be reused for the next run.
"""

import argparse
import contextlib
import pathlib
import statistics
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-d", "--database", required=True,
                        help="database with the Montañés add-ons installed")
    parser.add_argument("-c", "--config", default=str(REPO / "config" / "odoo-test.conf"),
                        help="Odoo configuration file (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs of each case; the median is reported (default: %(default)s)")
    return parser.parse_args()


@contextlib.contextmanager
def odoo_env(args):
    """Yield a superuser environment whose transaction is rolled back on exit."""
    import odoo  # noqa: PLC0415 - imported late so --help works without Odoo
    from odoo.modules.registry import Registry  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(["-c", args.config, "--addons-path", str(REPO / "addons"),
                         "-d", args.database, "--log-level", "warn"])
    registry = Registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": False})
        try:
            yield env
        finally:
            cr.rollback()


def timed(env, function):
    """Run ``function`` and return the seconds it took; its writes are rolled back after."""
    env.flush_all()
    env.cr.execute("SAVEPOINT montanes_bench")
    try:
        start = time.perf_counter()
        function()
        env.flush_all()
        return time.perf_counter() - start
    finally:
        env.cr.execute("ROLLBACK TO SAVEPOINT montanes_bench")
        env.invalidate_all()


def median_seconds(env, function, repeat):
    return statistics.median(timed(env, function) for _ in range(repeat))
