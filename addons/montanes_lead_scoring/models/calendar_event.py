import logging
import time

from odoo import api, fields, models, modules
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Meetings checked per batch by the held-meeting cron. Each one costs a few queries (lead
# contact, ledger insert), so a batch stays well under a second and commits often.
MEETING_BATCH_SIZE = 200


class CalendarEvent(models.Model):
    _inherit = 'calendar.event'

    montanes_meeting_outcome = fields.Selection(
        selection=[
            ('held', 'Held'),
            ('declined', 'Declined by the contact'),
            ('not_checked', 'Not checked: ended before lead scoring checked meetings'),
        ],
        string='Lead Scoring Outcome',
        readonly=True,
        copy=False,
        help='Set once the meeting has ended. Held: the lead scored the meeting and counts it '
        'as a contact. Declined by the contact: the lead\'s contact declined it, so it scored '
        'nothing. Not checked: the meeting had already ended when lead scoring was installed, '
        'or when it was upgraded from the version that scored meetings at booking. Such a '
        'meeting keeps any points that version gave it. Empty while the meeting has not ended, '
        'or when it has no lead.',
    )

    # The held-meeting cron reads the meetings of leads that ended and were not checked yet.
    _montanes_unchecked_lead_meeting_index = models.Index(
        "(stop) WHERE montanes_meeting_outcome IS NULL AND active "
        "AND (opportunity_id IS NOT NULL OR res_model = 'crm.lead')"
    )

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        # A meeting recorded after it took place counts at once; the others wait for the cron.
        now = fields.Datetime.now()
        ended = events.filtered(lambda event: event.stop and event.stop <= now)
        if ended:
            ended._montanes_register_held_meetings()
        return events

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_montanes_register_held_meetings(self, batch_size=MEETING_BATCH_SIZE):
        """Score the lead meetings that have ended since the last run and store them as contacts.

        Each batch locks its meetings with SKIP LOCKED, so a second worker running
        the job at the same time takes other meetings or none. A meeting is checked
        once: its outcome is stored with its score entry in the same transaction.
        Archived (cancelled) and deleted meetings are never selected.

        :return: number of meetings checked
        """
        start = time.monotonic()
        in_cron = bool(self.env.context.get('cron_id')) and not modules.module.current_test
        checked = 0
        while True:
            events = self._montanes_lock_ended_meetings(batch_size)
            if not events:
                break
            events._montanes_register_held_meetings()
            checked += len(events)
            if in_cron:
                remaining_time = self.env['ir.cron']._commit_progress(len(events))
                if remaining_time <= 0:
                    break
            elif len(events) < batch_size:
                break
        _logger.info("Held meetings: %d meetings checked in %.2fs", checked, time.monotonic() - start)
        return checked

    @api.model
    def _montanes_lock_ended_meetings(self, limit):
        """Lock and return up to ``limit`` active lead meetings that ended and were not checked."""
        self.flush_model(['montanes_meeting_outcome', 'active', 'stop', 'opportunity_id', 'res_model'])
        # Raw SQL for FOR UPDATE SKIP LOCKED, which the ORM's search cannot express.
        rows = self.env.execute_query(SQL(
            """
            SELECT id FROM calendar_event
             WHERE montanes_meeting_outcome IS NULL AND active
               AND (opportunity_id IS NOT NULL OR res_model = 'crm.lead')
               AND stop <= %s
             ORDER BY stop, id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
            """,
            fields.Datetime.now(), limit,
        ))
        return self.browse(event_id for (event_id,) in rows)

    # ------------------------------------------------------------
    # INSTALL AND UPGRADE
    # ------------------------------------------------------------

    @api.model
    def _montanes_skip_ended_meetings(self):
        """Mark every lead meeting that has already ended as not checked, so the held-meeting
        cron never scores it.

        Called when the module is installed and when it is upgraded from the version
        that scored meetings when they were booked. Those meetings ended under the
        earlier rule or before lead scoring existed, and scoring them now would add
        points for old contacts, run band actions and end campaigns. Archived
        meetings are marked too, so restoring one later does not score it.

        :return: number of meetings marked
        """
        self.flush_model(['montanes_meeting_outcome', 'stop', 'opportunity_id', 'res_model'])
        # Raw SQL: one statement for the whole history, and calendar.event.write() would
        # notify attendees and external calendars.
        rows = self.env.execute_query(SQL(
            """
            UPDATE calendar_event SET montanes_meeting_outcome = 'not_checked'
             WHERE montanes_meeting_outcome IS NULL
               AND (opportunity_id IS NOT NULL OR res_model = 'crm.lead')
               AND stop <= %s
         RETURNING id
            """,
            fields.Datetime.now(),
        ))
        self.invalidate_model(['montanes_meeting_outcome'])
        _logger.info("Held meetings: %d lead meetings that had already ended marked as not checked", len(rows))
        return len(rows)

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _montanes_get_meeting_lead(self):
        """Return the lead of this meeting: its opportunity, else the crm.lead it was scheduled from."""
        self.ensure_one()
        if self.opportunity_id:
            return self.opportunity_id
        if self.res_model == 'crm.lead' and self.res_id:
            return self.env['crm.lead'].browse(self.res_id).exists()
        return self.env['crm.lead']

    def _montanes_register_held_meetings(self):
        """Score these ended meetings on their leads and store each one's outcome.

        A meeting the lead's contact declined scores nothing and is not a contact.
        The ledger entry's source is the meeting, so a meeting scores once even if
        it is checked twice.
        """
        score_meetings = 'meeting' in self.env['crm.lead']._montanes_get_active_event_types()
        outcomes = {'held': [], 'declined': []}
        for event in self.sudo():
            lead = event._montanes_get_meeting_lead()
            declined = lead.partner_id and any(
                attendee.partner_id == lead.partner_id and attendee.state == 'declined'
                for attendee in event.attendee_ids
            )
            if declined:
                outcomes['declined'].append(event.id)
                continue
            outcomes['held'].append(event.id)
            if not lead:
                continue
            lead._montanes_set_last_contact('meeting', event.stop)
            if score_meetings:
                # The meeting itself is the occurrence of "every time" rules, not its end, so a
                # meeting scores once for each rule even if its time changes. The 19.0.1.1.0
                # migration gives the entries of meetings scored at booking this same key.
                source_ref = f'calendar.event,{event.id}'
                lead._montanes_register_event(
                    'meeting', source_ref, event_date=event.stop, description=event.name,
                    occurrence_ref=source_ref)
        self.flush_model(['montanes_meeting_outcome'])
        for outcome, event_ids in outcomes.items():
            if event_ids:
                # Raw SQL: calendar.event.write() would notify attendees and external calendars
                # of a field they never see.
                self.env.execute_query(SQL(
                    "UPDATE calendar_event SET montanes_meeting_outcome = %s WHERE id = ANY(%s)",
                    outcome, event_ids,
                ))
        self.invalidate_recordset(['montanes_meeting_outcome'])
