"""Give the tracking hits of version 19.0.1.0.0 the company that new hits get.

Hits had no company. A record rule now shows a hit to the users of its company only, and a
hit without company to every company. This runs at the end of the upgrade, once every add-on
is loaded, because the mailing's recipient model may belong to an add-on loaded after this
one.
"""

import logging
from collections import defaultdict

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    fill_tracking_hit_companies(api.Environment(cr, SUPERUSER_ID, {}))


def fill_tracking_hit_companies(env):
    """Set the company of the hits that have none, by the rule of new hits.

    The rule is that of montanes.tracking.hit._record_email_hit and of the website route.
    A hit on a lead takes the lead's company. A hit without a lead takes the company of the
    record the e-mail was sent to when its model has a company field, else the company of
    the mailing's responsible user. The companies are read as they are now, not as they
    were at the time of the hit.

    :return: number of hits given a company
    """
    cr = env.cr
    env.flush_all()

    # 1. A hit on a lead takes the lead's company, and none when the lead has none.
    cr.execute(SQL("""
        UPDATE montanes_tracking_hit hit
           SET company_id = lead.company_id
          FROM crm_lead lead
         WHERE lead.id = hit.lead_id AND hit.company_id IS NULL AND lead.company_id IS NOT NULL
    """))
    filled = cr.rowcount

    # 2. An e-mail hit without a lead takes the company of the record the e-mail was sent to.
    cr.execute(SQL("""
        SELECT DISTINCT trace.model
          FROM montanes_tracking_hit hit
          JOIN mailing_trace trace ON trace.id = hit.trace_id
         WHERE hit.lead_id IS NULL AND hit.company_id IS NULL AND trace.res_id IS NOT NULL
    """))
    for (model_name,) in cr.fetchall():
        if model_name in env and not env[model_name]._abstract and 'company_id' in env[model_name]._fields:
            filled += _fill_from_recipients(env[model_name])

    # 3. Else, the company of the mailing's responsible user.
    cr.execute(SQL("""
        UPDATE montanes_tracking_hit hit
           SET company_id = users.company_id
          FROM mailing_trace trace
          JOIN mailing_mailing mailing ON mailing.id = trace.mass_mailing_id
          JOIN res_users users ON users.id = mailing.user_id
         WHERE trace.id = hit.trace_id AND hit.lead_id IS NULL AND hit.company_id IS NULL
    """))
    filled += cr.rowcount

    env['montanes.tracking.hit'].invalidate_model(['company_id'])
    _logger.info("Tracking hits: %d hits recorded without company given one", filled)
    return filled


def _fill_from_recipients(Recipient):
    """Give the hits without lead or company that were sent to records of the model
    ``Recipient`` the company of their record, when it has one, and return their number."""
    cr = Recipient.env.cr
    field = Recipient._fields['company_id']
    if field.store and field.column_type:
        # Set-based: the recipients' table holds the company.
        cr.execute(SQL(
            """
            UPDATE montanes_tracking_hit hit
               SET company_id = recipient.company_id
              FROM mailing_trace trace
              JOIN %(table)s recipient ON recipient.id = trace.res_id
             WHERE trace.id = hit.trace_id AND trace.model = %(model)s
               AND hit.lead_id IS NULL AND hit.company_id IS NULL AND recipient.company_id IS NOT NULL
            """,
            table=SQL.identifier(Recipient._table), model=Recipient._name,
        ))
        return cr.rowcount

    # A company field that is not stored is read through the ORM, then written with one
    # statement per company.
    cr.execute(SQL(
        """
        SELECT DISTINCT trace.res_id
          FROM montanes_tracking_hit hit
          JOIN mailing_trace trace ON trace.id = hit.trace_id
         WHERE trace.model = %s AND hit.lead_id IS NULL AND hit.company_id IS NULL
        """,
        Recipient._name,
    ))
    record_ids_by_company = defaultdict(list)
    for record in Recipient.browse(res_id for (res_id,) in cr.fetchall()).exists():
        if record.company_id:
            record_ids_by_company[record.company_id.id].append(record.id)
    filled = 0
    for company_id, record_ids in record_ids_by_company.items():
        cr.execute(SQL(
            """
            UPDATE montanes_tracking_hit hit
               SET company_id = %(company_id)s
              FROM mailing_trace trace
             WHERE trace.id = hit.trace_id AND trace.model = %(model)s AND trace.res_id = ANY(%(record_ids)s)
               AND hit.lead_id IS NULL AND hit.company_id IS NULL
            """,
            company_id=company_id, model=Recipient._name, record_ids=record_ids,
        ))
        filled += cr.rowcount
    return filled
