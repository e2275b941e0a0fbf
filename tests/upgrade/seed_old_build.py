# Records made by montanes_lead_scoring 19.0.1.0.0 (the build of commit 0e1d994), for
# check_upgrade.py to read after the upgrade. Run by tests/upgrade/run in `odoo shell`, with the
# add-ons of that build, so it calls the API of that build: `env` is the shell's environment.
# Every record is named "Upgrade check ..." so the check finds it again.
from datetime import timedelta

from odoo import fields

FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'
now = fields.Datetime.now()

company_main = env.ref('base.main_company')
company_north = env['res.company'].create({'name': 'Upgrade check North'})
user_north = env['res.users'].create({
    'name': 'Upgrade check marketing North',
    'login': 'upgrade_check_north',
    'company_id': company_north.id,
    'company_ids': [(6, 0, company_north.ids)],
    'group_ids': [(4, env.ref('mass_mailing.group_mass_mailing_user').id)],
})

env['montanes.scoring.rule'].create([
    {'name': 'Upgrade check meeting every time', 'rule_type': 'behaviour', 'event_type': 'meeting',
     'points': 25, 'repeat_policy': 'every_time'},
    {'name': 'Upgrade check meeting once', 'rule_type': 'behaviour', 'event_type': 'meeting',
     'points': 10, 'repeat_policy': 'once_per_source'},
])

partner_main = env['res.partner'].create({'name': 'Upgrade check contact Main', 'email': 'main@upgrade.example'})
partner_north = env['res.partner'].create({
    'name': 'Upgrade check contact North', 'email': 'north@upgrade.example', 'company_id': company_north.id,
})
Lead = env['crm.lead'].with_context(tracking_disable=True)
lead_main = Lead.create({
    'name': 'Upgrade check lead Main', 'type': 'opportunity', 'email_from': 'main@upgrade.example',
    'partner_id': partner_main.id, 'company_id': company_main.id,
})
lead_north = Lead.create({
    'name': 'Upgrade check lead North', 'type': 'opportunity', 'email_from': 'north@upgrade.example',
    'company_id': company_north.id,
})
lead_no_company = Lead.create({
    'name': 'Upgrade check lead without company', 'email_from': 'nocompany@upgrade.example',
    'company_id': False,
})
lead_deleted = Lead.create({'name': 'Upgrade check lead deleted', 'email_from': 'deleted@upgrade.example'})
contact = env['mailing.contact'].create({'name': 'Upgrade check mailing contact', 'email': 'contact@upgrade.example'})


def mailing_to(model, user):
    return env['mailing.mailing'].create({
        'name': f'Upgrade check mailing to {model}',
        'subject': 'Upgrade check',
        'mailing_model_id': env['ir.model']._get_id(model),
        'user_id': user.id,
    })


def open_email(mailing, record, email):
    trace = env['mailing.trace'].create({
        'model': record._name, 'res_id': record.id, 'email': email, 'mass_mailing_id': mailing.id,
        'sent_datetime': now - timedelta(days=1),
    })
    env['montanes.tracking.hit']._record_email_hit(trace, 'email_open', FIREFOX, '203.0.113.9')


# E-mail hits. The responsible user of the lead mailing belongs to company North.
lead_mailing = mailing_to('crm.lead', user_north)
for lead in lead_main | lead_north | lead_no_company | lead_deleted:
    open_email(lead_mailing, lead, lead.email_from)
lead_deleted_id = lead_deleted.id
# The lead is deleted before the e-mail is opened, so its hit is recorded without a lead.
env['mailing.trace'].create({
    'model': 'crm.lead', 'res_id': lead_deleted_id, 'email': 'late@upgrade.example',
    'mass_mailing_id': lead_mailing.id, 'sent_datetime': now - timedelta(days=1),
})
lead_deleted.unlink()
late_trace = env['mailing.trace'].search([('email', '=', 'late@upgrade.example')])
env['montanes.tracking.hit']._record_email_hit(late_trace, 'email_open', FIREFOX, '203.0.113.9')

partner_mailing = mailing_to('res.partner', env.ref('base.user_admin'))
open_email(partner_mailing, partner_north, partner_north.email)
open_email(partner_mailing, partner_main, partner_main.email)
open_email(mailing_to('mailing.contact', user_north), contact, contact.email)

# Website hits, as the tracking route inserts them: with the token's lead, or without one
# when that lead no longer exists.
Hit = env['montanes.tracking.hit']
Hit._insert_hit({'hit_type': 'page_view', 'classification': 'human', 'lead_id': lead_north.id,
                 'url': 'https://www.upgrade.example/precios', 'nonce': 'upgrade-check-website-lead'})
Hit._insert_hit({'hit_type': 'page_view', 'classification': 'human',
                 'url': 'https://www.upgrade.example/precios', 'nonce': 'upgrade-check-website-no-lead'})

# Meetings: this build scores a meeting of an opportunity when it is created.
Event = env['calendar.event'].with_context(no_mail_to_attendees=True, mail_notrack=True)
lead_model_id = env['ir.model']._get_id('crm.lead')
past = now - timedelta(days=10)
future = now + timedelta(days=1)
Event.create([
    {'name': 'Upgrade check past opportunity meeting', 'opportunity_id': lead_main.id,
     'start': past, 'stop': past + timedelta(hours=1)},
    {'name': 'Upgrade check future opportunity meeting', 'opportunity_id': lead_main.id,
     'start': future, 'stop': future + timedelta(hours=1)},
    {'name': 'Upgrade check past lead document meeting', 'res_model_id': lead_model_id, 'res_id': lead_north.id,
     'start': past, 'stop': past + timedelta(hours=1)},
    {'name': 'Upgrade check future lead document meeting', 'res_model_id': lead_model_id,
     'res_id': lead_north.id, 'start': future, 'stop': future + timedelta(hours=1)},
    {'name': 'Upgrade check past meeting without lead', 'start': past, 'stop': past + timedelta(hours=1)},
])

env.cr.commit()
print("Upgrade check: seeded", env['montanes.tracking.hit'].search_count([]), "tracking hits and",
      env['montanes.lead.score.line'].search_count([('event_type', '=', 'meeting')]), "meeting entries")
