"""Time an automated campaign of 10,000 participants against Odoo's own mass mailing.

Campaign case: 10,000 leads enter a three-step flow (e-mail, wait 1 day, e-mail). The first
e-mail step is timed on its own, as "e-mails queued per second", and so is the whole flow.
Baseline, measured in the same run: ``mailing.mailing.action_send_mail()`` of one mailing with
the same subject and body to the same 10,000 leads.

Both sides run in one transaction that is rolled back at the end. Their commits, one per
batch of e-mails in Odoo's mass mailing and one per chunk in the campaign cron, are turned into
no-ops so that neither side pays for them and the database is left as it was.

    python3 bench/bench_campaign_flow.py -d DATABASE [--participants 10000]
"""

import argparse
import time
from datetime import timedelta

from odoo_bench import REPO, odoo_env

SUBJECT = "Hola {{ object.contact_name }}"
BODY = (
    '<p>Hola <t t-out="object.contact_name"/>, gracias por tu interés en '
    '<t t-out="object.partner_name"/>.</p>'
    '<p><a href="https://montanessoluciones.example/demo">Mira la demo</a></p>'
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--database", required=True,
                        help="database with the Montañés add-ons installed")
    parser.add_argument("-c", "--config", default=str(REPO / "config" / "odoo-test.conf"),
                        help="Odoo configuration file (default: %(default)s)")
    parser.add_argument("--participants", type=int, default=10000,
                        help="leads in the segment (default: %(default)s)")
    return parser.parse_args()


def create_leads(env, tag, count):
    stage = env["crm.stage"].search([], limit=1)
    leads = env["crm.lead"]
    for start in range(0, count, 1000):
        leads |= env["crm.lead"].create([
            {
                "name": f"Empresa de rendimiento {index}",
                "partner_name": f"Empresa de rendimiento {index}",
                "contact_name": f"Contacto {index}",
                "email_from": f"rendimiento{index}@bench.example",
                "type": "lead",
                "stage_id": stage.id,
                "tag_ids": [(4, tag.id)],
            }
            for index in range(start, min(start + 1000, count))
        ])
    env.flush_all()
    return leads


def time_block(env, function):
    env.flush_all()
    start = time.perf_counter()
    result = function()
    env.flush_all()
    return time.perf_counter() - start, result


def main():
    args = parse_args()
    with odoo_env(args) as env:
        # No commit may escape the rolled-back transaction.
        env.cr.commit = lambda: None
        env = env(context=dict(env.context, tracking_disable=True, mail_create_nolog=True))
        env.company.montanes_campaign_weekly_cap = 0
        tag = env["crm.tag"].create({"name": "Rendimiento de campañas"})
        leads = create_leads(env, tag, args.participants)

        # Baseline: Odoo's own mass mailing to the same leads.
        mailing = env["mailing.mailing"].create({
            "name": "Rendimiento: envío masivo de Odoo",
            "subject": SUBJECT,
            "body_arch": BODY,
            "body_html": BODY,
            "mailing_model_id": env["ir.model"]._get_id("crm.lead"),
            "mailing_domain": repr([("tag_ids", "in", [tag.id])]),
        })
        baseline_seconds, _result = time_block(env, mailing.action_send_mail)
        baseline_mails = env["mail.mail"].search_count([("mailing_id", "=", mailing.id)])

        # Campaign: e-mail, wait 1 day, e-mail.
        campaign = env["montanes.campaign"].create({
            "name": "Rendimiento: campaña automatizada",
            "segment_domain": repr([("tag_ids", "in", [tag.id])]),
            "step_ids": [
                (0, 0, {"sequence": 1, "name": "Primero", "subject": SUBJECT, "body_html": BODY,
                        "delay_value": 0}),
                (0, 0, {"sequence": 2, "name": "Espera", "step_type": "wait",
                        "delay_value": 1, "delay_unit": "days"}),
                (0, 0, {"sequence": 3, "name": "Segundo", "subject": SUBJECT, "body_html": BODY,
                        "delay_value": 0}),
            ],
        })
        first, wait, second = campaign.step_ids
        wait.parent_id = first
        second.parent_id = wait
        Activity = env["montanes.campaign.trace"]

        enrol_seconds, _result = time_block(env, campaign.action_launch)
        first_seconds, first_mails = time_block(env, Activity._process_due)

        def run_rest():
            # Move the wait forward by a day instead of sleeping.
            queued = 0
            for _step in (wait, second):
                env.flush_all()
                env.cr.execute(
                    "UPDATE montanes_campaign_trace SET schedule_date = schedule_date - %s "
                    "WHERE campaign_id = %s AND state = 'scheduled'",
                    (timedelta(days=1), campaign.id),
                )
                env.invalidate_all()
                queued += Activity._process_due()
            return queued

        rest_seconds, second_mails = time_block(env, run_rest)
        participants = len(campaign.participant_ids)

        baseline_rate = baseline_mails / baseline_seconds
        first_rate = first_mails / first_seconds
        flow_seconds = enrol_seconds + first_seconds + rest_seconds
        flow_rate = (first_mails + second_mails) / flow_seconds
        print(f"leads in the segment:                          {len(leads):8d}")
        print(f"Odoo action_send_mail: {baseline_mails:6d} e-mails in {baseline_seconds:7.2f} s "
              f"= {baseline_rate:7.1f} e-mails/s")
        print(f"campaign enrolment:    {participants:6d} participants in {enrol_seconds:7.2f} s")
        print(f"campaign first e-mail: {first_mails:6d} e-mails in {first_seconds:7.2f} s "
              f"= {first_rate:7.1f} e-mails/s")
        print(f"campaign whole flow:   {first_mails + second_mails:6d} e-mails in {flow_seconds:7.2f} s "
              f"= {flow_rate:7.1f} e-mails/s (enrolment and wait step included)")
        print(f"ratio first e-mail / action_send_mail:         {first_rate / baseline_rate:8.2f}")


if __name__ == "__main__":
    main()
