# Checks, after `-u montanes_lead_scoring`, the records seed_old_build.py made with version
# 19.0.1.0.0. Run by tests/upgrade/run in `odoo shell` with the current add-ons: `env` is the
# shell's environment. Prints one line per failed check and exits with status 1 if any failed.
import sys
from datetime import timedelta

from freezegun import freeze_time

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAILED:", message)


def named(model, name):
    record = env[model].with_context(active_test=False).search([('name', '=', name)])
    if len(record) != 1:
        sys.exit(f"Upgrade check: expected one {model} named {name!r}, found {len(record)}: "
                 "run seed_old_build.py on the old build first")
    return record


company_main = env.ref('base.main_company')
company_north = named('res.company', 'Upgrade check North')
lead_main = named('crm.lead', 'Upgrade check lead Main')
lead_north = named('crm.lead', 'Upgrade check lead North')
lead_no_company = named('crm.lead', 'Upgrade check lead without company')
partner_main = named('res.partner', 'Upgrade check contact Main')
partner_north = named('res.partner', 'Upgrade check contact North')
contact = named('mailing.contact', 'Upgrade check mailing contact')

# 1. Tracking hits have the company a new hit would get.
Hit = env['montanes.tracking.hit']
Trace = env['mailing.trace']
expected_companies = [
    ("e-mail hit on a lead of company Main", Hit.search([('lead_id', '=', lead_main.id)]), company_main),
    ("e-mail hit on a lead of company North", Hit.search([('lead_id', '=', lead_north.id), ('trace_id', '!=', False)]),
     company_north),
    ("e-mail hit on a lead without company", Hit.search([('lead_id', '=', lead_no_company.id)]), env['res.company']),
    ("e-mail hit on a deleted lead: the mailing's responsible user's company",
     Hit.search([('trace_id', 'in', Trace.search([('email', '=', 'late@upgrade.example')]).ids)]), company_north),
    ("e-mail hit on a contact of company North",
     Hit.search([('trace_id.model', '=', 'res.partner'), ('trace_id.res_id', '=', partner_north.id)]), company_north),
    ("e-mail hit on a contact without company: the mailing's responsible user's company",
     Hit.search([('trace_id.model', '=', 'res.partner'), ('trace_id.res_id', '=', partner_main.id)]), company_main),
    ("e-mail hit on a mailing contact: the mailing's responsible user's company",
     Hit.search([('trace_id.model', '=', 'mailing.contact'), ('trace_id.res_id', '=', contact.id)]), company_north),
    ("website hit on a lead of company North", Hit.search([('nonce', '=', 'upgrade-check-website-lead')]),
     company_north),
    ("website hit without lead", Hit.search([('nonce', '=', 'upgrade-check-website-no-lead')]), env['res.company']),
]
for label, hit, company in expected_companies:
    check(len(hit) == 1, f"{label}: expected one hit, found {len(hit)}")
    check(hit.company_id == company,
          f"{label}: expected company {company.name or 'none'}, got {hit.company_id.name or 'none'}")

# 2. The held-meeting cron scores no meeting a second time.
Event = env['calendar.event'].with_context(active_test=False)
past_opportunity = named('calendar.event', 'Upgrade check past opportunity meeting')
future_opportunity = named('calendar.event', 'Upgrade check future opportunity meeting')
past_document = named('calendar.event', 'Upgrade check past lead document meeting')
future_document = named('calendar.event', 'Upgrade check future lead document meeting')
past_without_lead = named('calendar.event', 'Upgrade check past meeting without lead')
ScoreLine = env['montanes.lead.score.line']


def meeting_entries(meeting):
    return ScoreLine.search([('event_ref', '=', f'calendar.event,{meeting.id}')])


entries_before = {meeting: meeting_entries(meeting) for meeting in (past_opportunity, future_opportunity)}
check(len(entries_before[past_opportunity]) == 2, "the old build scored the past meeting for both rules")
check(len(entries_before[future_opportunity]) == 2, "the old build scored the future meeting for both rules")
check(past_opportunity.montanes_meeting_outcome == 'not_checked', "a meeting that had ended is not checked")
check(past_document.montanes_meeting_outcome == 'not_checked', "a lead meeting without opportunity is not checked")
check(not past_without_lead.montanes_meeting_outcome, "a meeting without lead gets no outcome")
check(not future_opportunity.montanes_meeting_outcome, "a future meeting waits for its end")

with freeze_time(future_opportunity.stop + timedelta(hours=1)):
    checked = Event._cron_montanes_register_held_meetings()
check(checked == 2, f"the cron checks the two meetings that ended since the upgrade, not {checked}")
check(future_opportunity.montanes_meeting_outcome == 'held', "the meeting booked before the upgrade is held")
for meeting, entries in entries_before.items():
    check(meeting_entries(meeting) == entries,
          f"{meeting.name} keeps its {len(entries)} entries, got {len(meeting_entries(meeting))}")
check(lead_main.montanes_last_contact_date == future_opportunity.stop,
      "the held meeting booked before the upgrade is the lead's last contact")
check(not meeting_entries(past_document), "the meeting that ended before the upgrade scores nothing")
new_entries = meeting_entries(future_document)
check(sorted(new_entries.mapped('points_earned')) == [10, 25],
      "the meeting booked after the old build's scoring scores once per rule when held")
check(set(new_entries.mapped('date')) == {future_document.stop}, "a held meeting is dated at its end")

with freeze_time(future_opportunity.stop + timedelta(hours=2)):
    check(Event._cron_montanes_register_held_meetings() == 0, "a second cron run checks nothing")

# 3. The stored scores still equal the sums of the entries.
leads = lead_main | lead_north | lead_no_company
for lead in leads:
    lines = lead.montanes_score_line_ids
    engagement = sum(lines.filtered(lambda line: line.rule_type != 'profile').mapped('points'))
    fit = sum(lines.filtered(lambda line: line.rule_type == 'profile').mapped('points'))
    check(lead.montanes_score_engagement == engagement,
          f"{lead.name}: engagement {lead.montanes_score_engagement} != sum of entries {engagement}")
    check(lead.montanes_score_fit == fit, f"{lead.name}: fit {lead.montanes_score_fit} != sum of entries {fit}")
env.flush_all()
check(leads._montanes_recompute_totals() == 0, "the SQL recompute finds no score to correct")
check(lead_main.montanes_score_engagement == 70, "two meetings scored once per rule: 2 x (25 + 10)")

env.cr.rollback()
if failures:
    sys.exit(f"Upgrade check: {len(failures)} checks failed")
print("Upgrade check: all checks passed")
