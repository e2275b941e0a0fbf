"""Time the full lead score recompute against Odoo's PLS rebuild on the same generated data.

Data, generated in SQL inside the benchmark's transaction: ``--leads`` leads (70 % open,
15 % won, 15 % lost) over 3 sales teams and 4 stages, 4 profile rules, 4 behaviour rules
(half-life, time window, every time with a maximum) and ``--events`` behaviour score
entries on random open leads, dated over the last 180 days. Cases, measured in the same
run on the same rows:

- full recompute: ``crm.lead._cron_montanes_recompute_scores`` (profile rules on every
  lead, then every lead's totals, with the decay and expiry of its entries, and band), in
  four states: the first run on the generated rows, which were written behind the add-on
  (no profile entry, no stored total); the steady state, run again once that result is
  committed; and the same committed state 1 and 7 days later (clock moved with freezegun),
  when decay and expiry have changed the totals of part of the leads;
- Odoo's PLS rebuild: ``crm.lead._cron_update_automated_probabilities``;
- scoring time added to a tracking request: ``crm.lead._montanes_register_event`` of one
  page view on one lead (the call the website tracking route makes), 95th percentile.

Peak memory is the process's maximum resident set size (ru_maxrss) after the recompute.
The generated rows are committed (use a dedicated copy of a database, kept for later runs
of the same size) and vacuumed; each timed case then runs in a transaction rolled back
after it, followed by a VACUUM.

    python3 bench/bench_lead_scoring.py -d DATABASE [--leads 100000] [--events 1000000] [--repeat 1]
"""

import argparse
import datetime
import random
import resource
import statistics
import time

from odoo_bench import REPO


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("-c", "--config", default=str(REPO / "config" / "odoo-test.conf"))
    parser.add_argument("--leads", type=int, default=100000)
    parser.add_argument("--events", type=int, default=1000000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs of each case; the median is reported (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=300,
                        help="page views registered for the tracking percentile (default: %(default)s)")
    return parser.parse_args()


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def create_rules(env):
    Rule = env["montanes.scoring.rule"]
    Rule.with_context(active_test=False).search([]).write({"active": False})
    profile = Rule.create([
        {"name": "Dirección", "rule_type": "profile", "domain": "[('function', 'ilike', 'director')]", "points": 15},
        {"name": "Presupuesto alto", "rule_type": "profile", "domain": "[('expected_revenue', '>=', 5000)]",
         "points": 10},
        {"name": "Sin e-mail", "rule_type": "profile", "domain": "[('email_from', '=', False)]", "points": -10},
        {"name": "Oportunidad", "rule_type": "profile", "domain": "[('type', '=', 'opportunity'), ('expected_revenue', '>', 0)]", "points": 5},
    ])
    behaviour = Rule.create([
        {"name": "Abre", "rule_type": "behaviour", "event_type": "email_open", "points": 5,
         "validity": "half_life", "half_life_days": 60},
        {"name": "Clic", "rule_type": "behaviour", "event_type": "email_click", "points": 10,
         "validity": "window", "validity_days": 90},
        {"name": "Visita", "rule_type": "behaviour", "event_type": "page_view", "points": 2,
         "repeat_policy": "every_time", "max_per_period": 10, "period_days": 30,
         "validity": "decay", "decay_percent": 20, "decay_period_days": 30},
        {"name": "Responde", "rule_type": "behaviour", "event_type": "email_reply", "points": 20},
    ])
    return profile, behaviour


def generate_data(env, lead_count, event_count, behaviour_rules):
    """Insert the leads and the behaviour entries in SQL; the profile entries are left to the recompute."""
    cr = env.cr
    company = env.company
    teams = env["crm.team"].search([], limit=3) or env["crm.team"].create([{"name": f"Bench {i}"} for i in range(3)])
    stages = env["crm.stage"].search([("is_won", "=", False)], limit=3)
    won_stage = env["crm.stage"].search([("is_won", "=", True)], limit=1)
    cold = env.ref("montanes_lead_scoring.score_band_cold")
    env.flush_all()
    cr.execute(
        """
        INSERT INTO crm_lead (name, type, active, won_status, company_id, team_id, stage_id, function,
                              expected_revenue, email_from, priority, probability, automated_probability,
                              montanes_band_id, montanes_followup_state, montanes_score, montanes_score_fit,
                              montanes_score_engagement, create_date, write_date, create_uid, write_uid)
        SELECT 'Bench lead ' || g, 'opportunity',
               (g % 20) NOT IN (1, 2, 3),
               CASE WHEN g %% 20 IN (4, 5, 6) THEN 'won' WHEN g %% 20 IN (1, 2, 3) THEN 'lost' ELSE 'pending' END,
               %(company)s,
               (%(teams)s::int[])[1 + g %% array_length(%(teams)s::int[], 1)],
               CASE WHEN g %% 20 IN (4, 5, 6) THEN %(won)s
                    ELSE (%(stages)s::int[])[1 + g %% array_length(%(stages)s::int[], 1)] END,
               CASE WHEN g %% 7 = 0 THEN 'Director comercial' ELSE 'Técnico' END,
               (g %% 13) * 1000,
               CASE WHEN g %% 11 = 0 THEN NULL ELSE 'lead' || g || '@bench.example' END,
               (g %% 4)::text,
               CASE WHEN g %% 20 IN (4, 5, 6) THEN 100 WHEN g %% 20 IN (1, 2, 3) THEN 0 ELSE 10 END,
               10,
               %(cold)s, 'none', 0, 0, 0, now() - (g %% 300) * interval '1 day', now(), 1, 1
          FROM generate_series(1, %(count)s) AS g
        """.replace("(g % 20)", "(g %% 20)"),
        {"company": company.id, "teams": teams.ids, "stages": stages.ids, "won": won_stage.id,
         "cold": cold.id, "count": lead_count},
    )
    cr.execute("SELECT array_agg(id) FROM crm_lead WHERE active AND name LIKE 'Bench lead %%'")
    [open_ids] = cr.fetchone()
    rules = [(rule.id, rule.event_type, rule.points) for rule in behaviour_rules]
    cr.execute(
        """
        INSERT INTO montanes_lead_score_line
            (lead_id, company_id, rule_id, rule_type, points_earned, event_type, source_ref,
             date, expiry_date, description)
        SELECT lead.id, %(company)s, rule.id, 'behaviour', rule.points, rule.event_type,
               'bench,' || g, event.date,
               CASE WHEN rule.event_type = 'email_click' THEN event.date + interval '90 days' END,
               'Bench event'
          FROM generate_series(1, %(count)s) AS g
          CROSS JOIN LATERAL (SELECT (%(open_ids)s::int[])[1 + (hashint4(g) & 2147483647) %% %(open_count)s] AS id) lead
          CROSS JOIN LATERAL (SELECT * FROM (VALUES %(rules)s) AS r(id, event_type, points)
                               OFFSET (g %% %(rule_count)s) LIMIT 1) rule
          CROSS JOIN LATERAL (SELECT now() - (g %% 180) * interval '1 day' AS date) event
        """.replace("%(rules)s", ", ".join(cr.mogrify("(%s, %s, %s)", rule).decode() for rule in rules)),
        {"company": company.id, "count": event_count, "open_ids": open_ids, "open_count": len(open_ids),
         "rule_count": len(rules)},
    )
    return open_ids


def vacuum(database):
    """VACUUM ANALYZE the benchmark tables, so dead rows of a rolled-back case do not slow the next one."""
    import psycopg2  # noqa: PLC0415

    from odoo.tools import config  # noqa: PLC0415

    connection = psycopg2.connect(dbname=database, host=config["db_host"] or None,
                                  port=config["db_port"] or None, user=config["db_user"] or None)
    connection.autocommit = True
    with connection.cursor() as cr:
        cr.execute("VACUUM ANALYZE crm_lead, montanes_lead_score_line, montanes_lead_band_crossing")
    connection.close()


def recompute_later(env, days):
    """Run the full recompute with the clock ``days`` ahead; return the number of leads changed."""
    from freezegun import freeze_time  # noqa: PLC0415

    with freeze_time(datetime.datetime.now() + datetime.timedelta(days=days), tick=True):
        return env["crm.lead"]._cron_montanes_recompute_scores()


def run_case(registry, function):
    """Run ``function(env)`` in its own transaction, rolled back after; return its seconds."""
    import odoo  # noqa: PLC0415

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})
        try:
            start = time.perf_counter()
            result = function(env)
            env.flush_all()
            return time.perf_counter() - start, result
        finally:
            cr.rollback()


def main():
    args = parse_args()
    import odoo  # noqa: PLC0415
    from odoo.modules import module as odoo_module  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(["-c", args.config, "--addons-path", str(REPO / "addons"),
                         "-d", args.database, "--log-level", "warn"])
    registry = Registry(args.database)
    # Both crons commit per batch outside tests; each case must stay in its own transaction.
    odoo_module.current_test = True

    # The generated rows are committed, so the cases run on vacuumed tables as in production.
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True})
        marker = f"{args.leads},{args.events}"
        if env["ir.config_parameter"].get_param("montanes_lead_scoring.bench_data") != marker:
            if env["ir.config_parameter"].get_param("montanes_lead_scoring.bench_data"):
                raise SystemExit("This database holds benchmark data of another size: use a fresh copy.")
            start = time.perf_counter()
            # PLS learns only from leads created after this date; the generated leads span 300 days.
            env["ir.config_parameter"].set_param("crm.pls_start_date", "2020-01-01")
            _profile_rules, behaviour_rules = create_rules(env)
            generate_data(env, args.leads, args.events, behaviour_rules)
            env["ir.config_parameter"].set_param("montanes_lead_scoring.bench_data", marker)
            env.flush_all()
            cr.commit()
            print(f"generated {args.leads} leads and {args.events} events in {time.perf_counter() - start:.1f} s")
        cr.execute("SELECT array_agg(id) FROM crm_lead WHERE active AND name LIKE 'Bench lead %%'")
        [open_ids] = cr.fetchone()
    vacuum(args.database)

    rss_before = max_rss_mib()
    recompute = []
    for _run in range(args.repeat):
        recompute.append(run_case(registry, lambda env: env["crm.lead"]._cron_montanes_recompute_scores())[0])
        vacuum(args.database)
    rss_after = max_rss_mib()
    pls = []
    for _run in range(args.repeat):
        pls.append(run_case(registry, lambda env: env["crm.lead"]._cron_update_automated_probabilities())[0])
        vacuum(args.database)

    # Steady state: the recompute committed once, then timed again with nothing left to change.
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        env["crm.lead"]._cron_montanes_recompute_scores()
        cr.commit()
    vacuum(args.database)
    steady = [run_case(registry, lambda env: env["crm.lead"]._cron_montanes_recompute_scores())[0]
              for _run in range(args.repeat)]

    # The scheduled runs: the committed scores, read again once days have passed.
    later = {}
    for days in (1, 7):
        runs = []
        for _run in range(args.repeat):
            runs.append(run_case(registry, lambda env, days=days: recompute_later(env, days)))
            vacuum(args.database)
        later[days] = (statistics.median(seconds for seconds, _changed in runs), runs[0][1])

    # Tracking: one page view per request transaction on a random open lead.
    rng = random.Random(42)
    durations = []
    for index in range(args.requests):
        lead_id = rng.choice(open_ids)

        def register(env, lead_id=lead_id, index=index):
            env["crm.lead"].browse(lead_id)._montanes_register_event(
                "page_view", f"https://www.montanes.example/precios?visit={index}")

        durations.append(run_case(registry, register)[0] * 1000)
    durations.sort()
    p95 = durations[int(len(durations) * 0.95) - 1]

    recompute_s = statistics.median(recompute)
    steady_s = statistics.median(steady)
    pls_s = statistics.median(pls)
    print(f"leads: {args.leads}, events: {args.events}, median of {args.repeat} run(s)")
    print(f"full recompute, first run (profile entries, totals, bands to write): {recompute_s:.2f} s")
    print(f"full recompute, steady state (run again, nothing to change): {steady_s:.2f} s")
    for days, (seconds, changed) in later.items():
        print(f"full recompute, {days} day(s) later (decay and expiry): {seconds:.2f} s, "
              f"{changed} leads changed, ratio {seconds / pls_s:.2f}")
    print(f"Odoo PLS rebuild: {pls_s:.2f} s")
    print(f"ratio recompute / PLS: first run {recompute_s / pls_s:.2f}, steady {steady_s / pls_s:.2f} "
          f"(target <= 1.00)")
    print(f"tracking request, scoring part: p50 {statistics.median(durations):.2f} ms, "
          f"p95 {p95:.2f} ms over {args.requests} page views (target <= 10 ms)")
    print(f"peak RSS: {rss_after:.0f} MiB after the recompute ({rss_before:.0f} MiB before it; target < 1024)")


if __name__ == "__main__":
    main()
