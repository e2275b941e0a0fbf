import logging
import secrets
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models, modules
from odoo.exceptions import UserError
from odoo.fields import Domain
from odoo.tools import SQL

from .montanes_campaign_step import NEGATIVE_OUTCOME_TRIGGERS, POSITIVE_OUTCOME_TRIGGERS

_logger = logging.getLogger(__name__)

# Activities claimed by one worker at a time. Each chunk is committed before
# the next one is claimed, so a crash loses at most the chunk in progress,
# and that chunk is rolled back whole: nothing of it was sent. Chunks of 1,000
# rather than 200 queued e-mails about 10 % faster in bench/bench_campaign_flow.py
# (fewer claims, checks and composers per e-mail).
PROCESS_CHUNK_SIZE = 1000
# Window over which the weekly cap counts the e-mails of an address.
CAP_PERIOD = timedelta(days=7)
# Wait before retrying an address that another worker was mailing at the same
# moment: long enough for that worker to commit its chunk.
CAP_RETRY_DELAY = timedelta(minutes=1)


class MontanesCampaignTrace(models.Model):
    """What one step does for one participant: scheduled, done or cancelled.

    A unique index allows a single activity per participant and step, so a
    step runs, and its e-mail goes out, at most once per participant, even
    with several workers.
    """

    _name = "montanes.campaign.trace"
    _description = "Automated Campaign Activity"
    _order = "schedule_date desc, id desc"
    _rec_name = "step_id"

    participant_id = fields.Many2one(
        comodel_name="montanes.campaign.participant",
        string="Participant",
        required=True,
        ondelete="cascade",
        index=True,
    )
    step_id = fields.Many2one(
        comodel_name="montanes.campaign.step",
        string="Step",
        required=True,
        ondelete="cascade",
        index=True,
    )
    campaign_id = fields.Many2one(
        comodel_name="montanes.campaign",
        string="Campaign",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    parent_id = fields.Many2one(
        comodel_name="montanes.campaign.trace",
        string="Parent Activity",
        ondelete="cascade",
        index="btree_not_null",
    )
    state = fields.Selection(
        selection=[
            ("scheduled", "Scheduled"),
            ("processed", "Done"),
            ("canceled", "Cancelled"),
            ("rejected", "Rejected"),
            ("error", "Error"),
        ],
        string="Status",
        default="scheduled",
        required=True,
    )
    state_msg = fields.Char(string="Reason", readonly=True)
    schedule_date = fields.Datetime(string="Scheduled For", required=True)
    date_done = fields.Datetime(string="Done On", readonly=True)
    mailing_trace_id = fields.Many2one(
        comodel_name="mailing.trace",
        string="E-mail Trace",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    variant = fields.Selection(
        selection=[("a", "A"), ("b", "B")],
        string="Version",
        readonly=True,
    )

    _participant_step_unique = models.UniqueIndex(
        "(participant_id, step_id)",
        "A step runs only once for each participant.",
    )
    _due_index = models.Index("(schedule_date, id) WHERE state = 'scheduled'")

    # ------------------------------------------------------------
    # SCHEDULING
    # ------------------------------------------------------------

    @api.model
    def _insert_activities(self, rows):
        """Insert activities, skipping those that already exist for their
        participant and step, and return the inserted ones.

        :param rows: dicts with participant_id, step_id, campaign_id,
            schedule_date, and optionally parent_id, state and state_msg
        """
        if not rows:
            return self.browse()
        self.flush_model()
        now = fields.Datetime.now()
        uid = self.env.uid
        inserted_ids = []
        for start in range(0, len(rows), 1000):
            values = [
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    row["participant_id"], row["step_id"], row["campaign_id"],
                    row.get("parent_id"), row.get("state", "scheduled"), row.get("state_msg"),
                    row["schedule_date"], uid, now, uid, now,
                )
                for row in rows[start:start + 1000]
            ]
            self.env.cr.execute(SQL(
                """INSERT INTO montanes_campaign_trace
                       (participant_id, step_id, campaign_id, parent_id, state, state_msg,
                        schedule_date, create_uid, create_date, write_uid, write_date)
                   VALUES %s
                   ON CONFLICT (participant_id, step_id) DO NOTHING
                   RETURNING id""",
                SQL(", ").join(values),
            ))
            inserted_ids += [row[0] for row in self.env.cr.fetchall()]
        return self.browse(inserted_ids)

    @api.model
    def _get_run_date(self, step, participant, base_date):
        """Return when step runs for participant: base_date plus the step
        delay, moved into the send window for e-mail steps."""
        run_date = base_date + step._get_delay()
        if step.step_type == "email":
            run_date = step.campaign_id._apply_send_window(run_date, participant.tz)
        return run_date

    def _schedule_children(self, triggers=("after", *NEGATIVE_OUTCOME_TRIGGERS)):
        """Schedule the child steps of these done activities whose trigger is
        in triggers. 'Not' outcomes are checked when they run."""
        rows = []
        for activity in self:
            for child in activity.step_id.child_ids:
                if child.trigger_type not in triggers:
                    continue
                rows.append({
                    "participant_id": activity.participant_id.id,
                    "step_id": child.id,
                    "campaign_id": activity.campaign_id.id,
                    "parent_id": activity.id,
                    "schedule_date": self._get_run_date(child, activity.participant_id, activity.date_done),
                })
        return self._insert_activities(rows)

    # ------------------------------------------------------------
    # PROCESSING
    # ------------------------------------------------------------

    @api.model
    def _process_due(self, campaigns=None, chunk_size=PROCESS_CHUNK_SIZE):
        """Run the due activities of running campaigns, one chunk per commit.

        Each chunk is claimed with SELECT ... FOR UPDATE SKIP LOCKED and only
        while still scheduled, so two workers never run the same activity,
        and a chunk whose worker dies is rolled back and claimed again by the
        next run.

        :return: number of e-mails queued
        """
        queued_count = 0
        now = fields.Datetime.now()
        while True:
            activities = self._claim_due(now, chunk_size, campaigns)
            if not activities:
                break
            queued_count += activities._execute(now)
            remaining_time = self.env["montanes.campaign"]._commit_batch(processed=len(activities))
            if remaining_time <= 0:
                break
        return queued_count

    @api.model
    def _claim_due(self, now, limit, campaigns=None):
        """Lock and return at most limit due activities of running campaigns."""
        self.env.flush_all()
        campaign_filter = SQL("")
        if campaigns is not None:
            campaign_filter = SQL("AND activity.campaign_id = ANY(%s)", campaigns.ids)
        self.env.cr.execute(SQL(
            """SELECT activity.id
                 FROM montanes_campaign_trace activity
                 JOIN montanes_campaign campaign ON campaign.id = activity.campaign_id
                WHERE activity.state = 'scheduled'
                  AND activity.schedule_date <= %s
                  AND campaign.state = 'running'
                  %s
             ORDER BY activity.schedule_date, activity.id
                LIMIT %s
           FOR UPDATE OF activity SKIP LOCKED""",
            now, campaign_filter, limit,
        ))
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _execute(self, now):
        """Run the claimed activities step by step.

        :return: number of e-mails queued
        """
        queued_count = 0
        self.invalidate_recordset()
        for step, activities in self.grouped("step_id").items():
            activities = activities._filter_runnable(now)
            if not activities:
                continue
            if step.step_type == "email":
                queued_count += activities._execute_email(now)
            elif step.step_type == "condition":
                activities._execute_condition(now)
            elif step.step_type == "action":
                activities._execute_action(now)
            elif step.step_type == "exit":
                activities._mark_done(now)
                activities.participant_id._exit("exit_step")
            else:
                activities._mark_done(now)
        self.participant_id._complete_finished()
        return queued_count

    def _filter_runnable(self, now):
        """Cancel the activities that may no longer run, and return the others.

        An activity is cancelled when its participant left the campaign or
        the segment, its record is gone, it is late beyond the step validity,
        or, for a 'not' outcome, the outcome happened within the limit.
        """
        step = self.step_id
        campaign = step.campaign_id

        stopped = self.filtered(lambda activity: activity.participant_id.state == "exited")
        stopped._cancel(self.env._("The participant left the campaign."))
        activities = self - stopped

        # Records deleted or archived since the enrolment.
        record_field = campaign._get_record_field()
        alive = activities.participant_id[record_field].exists().filtered("active")
        gone = activities.filtered(lambda activity: activity.participant_id[record_field] not in alive)
        gone.participant_id._exit("archived")
        activities -= gone

        # The segment is evaluated again before every step.
        if campaign.exit_on_segment_leave and activities:
            outside = activities.participant_id - campaign._filter_in_segment(activities.participant_id)
            outside._exit("segment")
            activities = activities.filtered(lambda activity: activity.participant_id not in outside)

        validity = step._get_validity()
        if validity:
            late = activities.filtered(lambda activity: activity.schedule_date + validity < now)
            unit_labels = dict(step._fields["validity_unit"]._description_selection(self.env))
            late._cancel(self.env._("More than %(validity)s %(unit)s late.",
                                    validity=step.validity_value, unit=unit_labels[step.validity_unit]))
            activities -= late

        if step.trigger_type in NEGATIVE_OUTCOME_TRIGGERS:
            activities = activities._filter_negative_outcome()
        return activities

    def _filter_negative_outcome(self):
        """Cancel the 'not opened' (clicked, replied) activities whose outcome
        happened before the limit, and return the others.

        The parent activities are locked first, as the tracking hooks do. An
        open that arrives meanwhile is therefore either committed before this
        check reads it, or waits and then finds this branch already done."""
        step = self.step_id
        positive = NEGATIVE_OUTCOME_TRIGGERS[step.trigger_type]
        self.env.cr.execute(SQL(
            "SELECT id FROM montanes_campaign_trace WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            self.parent_id.ids,
        ))
        self.parent_id.invalidate_recordset()
        self.parent_id.mailing_trace_id.invalidate_recordset()
        limit = step._get_delay()
        siblings = self.search([
            ("parent_id", "in", self.parent_id.ids),
            ("step_id.trigger_type", "=", positive),
            ("state", "in", ("scheduled", "processed")),
        ])
        parents_with_outcome = siblings.parent_id
        runnable = self.browse()
        for activity in self:
            parent = activity.parent_id
            outcome_date = parent.mailing_trace_id._montanes_get_outcome_date(positive)
            deadline = parent.date_done + limit
            if parent in parents_with_outcome or (outcome_date and outcome_date <= deadline):
                activity._cancel(self.env._("Cancelled because this happened within the limit: %(outcome)s.",
                                            outcome=self._get_trigger_label(positive)))
            else:
                runnable |= activity
        return runnable

    def _execute_email(self, now):
        """Send the step e-mail to the claimed participants that may receive it.

        :return: number of e-mails queued
        """
        step = self.step_id
        campaign = step.campaign_id

        # 1. Outside the send window: wait for the next allowed slot.
        activities = self
        if campaign.window_enabled:
            later = self.browse()
            for activity in activities:
                slot = campaign._apply_send_window(now, activity.participant_id.tz)
                if slot > now:
                    activity.schedule_date = slot
                    later |= activity
            activities -= later

        # 2. Blacklist and opt-outs, read at send time.
        emails = activities.participant_id.mapped("email_normalized")
        blacklisted = set(self.env["mail.blacklist"].sudo().search([("email", "in", emails)]).mapped("email"))
        opted_out = self.env["montanes.campaign.optout"].sudo()._get_opted_out_emails(campaign, emails)
        blocked = activities.filtered(lambda activity: activity.participant_id.email_normalized in blacklisted)
        blocked._cancel_email(self.env._("The address is blacklisted."), "mail_bl")
        activities -= blocked
        opted = activities.filtered(lambda activity: activity.participant_id.email_normalized in opted_out)
        opted._cancel_email(self.env._("The address unsubscribed from this campaign."), "mail_optout")
        activities -= opted

        # 3. Weekly cap across all campaigns: wait until the oldest e-mail
        # of the period falls out of it.
        activities = activities._postpone_capped(now)
        if not activities:
            return 0

        # 4. Send each version to its participants.
        queued_count = 0
        for variant, variant_activities in activities._split_ab_variants(now).items():
            queued_count += variant_activities._send_mailing(step._get_or_create_mailing(variant), variant, now)
        return queued_count

    def _postpone_capped(self, now):
        """Postpone the activities of addresses that reached the weekly cap,
        and return the others.

        The address rows are locked before the e-mails are counted, so two
        workers that send different campaigns to one address at the same
        moment cannot both see it under the cap. The worker that loses the
        race retries those addresses a minute later, on a new snapshot."""
        cap = self.campaign_id.company_id.montanes_campaign_weekly_cap
        if not cap or not self:
            return self
        emails = self.participant_id.mapped("email_normalized")
        contended = self.env["montanes.campaign.address"].sudo()._lock_addresses(emails, now)
        retried = self.filtered(lambda activity: activity.participant_id.email_normalized in contended)
        if retried:
            _logger.info(
                "Weekly cap: another worker is mailing %s addresses, activities %s retried in %s",
                len(contended), retried.ids, CAP_RETRY_DELAY,
            )
            retried.write({
                "schedule_date": now + CAP_RETRY_DELAY,
                "state_msg": self.env._("Postponed: another worker was sending to this address."),
            })
            self.env.ref("montanes_campaigns.ir_cron_montanes_campaign_process")._trigger(now + CAP_RETRY_DELAY)
        activities = self - retried
        if not activities:
            return activities

        self.flush_model()
        self.env.cr.execute(SQL(
            """SELECT participant.email_normalized, COUNT(*), MIN(activity.date_done)
                 FROM montanes_campaign_trace activity
                 JOIN montanes_campaign_participant participant ON participant.id = activity.participant_id
                WHERE activity.state = 'processed'
                  AND activity.mailing_trace_id IS NOT NULL
                  AND activity.date_done > %s
                  AND participant.email_normalized = ANY(%s)
             GROUP BY participant.email_normalized""",
            now - CAP_PERIOD, activities.participant_id.mapped("email_normalized"),
        ))
        sent_by_email = {email: (count, oldest) for email, count, oldest in self.env.cr.fetchall()}
        postponed = self.browse()
        for activity in activities:
            email = activity.participant_id.email_normalized
            count, oldest = sent_by_email.get(email, (0, now))
            if count < cap:
                # Activities later in this chunk count this e-mail too.
                sent_by_email[email] = (count + 1, oldest)
                continue
            postponed |= activity
            activity.write({
                "schedule_date": activity.campaign_id._apply_send_window(oldest + CAP_PERIOD, activity.participant_id.tz),
                "state_msg": self.env._("Postponed: the address reached the weekly cap of %(cap)s e-mails.",
                                        cap=cap),
            })
        return activities - postponed

    def _split_ab_variants(self, now):
        """Return the activities per version.

        Without an A/B test, or once the winner is known, all go to one
        version. During the test the versions alternate until each one has
        reached the test size. The next participants wait until the decision
        date, ab_wait_hours after the last test e-mail.
        """
        step = self.step_id
        if not step.ab_enabled:
            return {"a": self}
        if not step.ab_winner and step.ab_decision_date and step.ab_decision_date <= now:
            step._montanes_choose_ab_winner()
        if step.ab_winner:
            return {step.ab_winner: self}

        sent = defaultdict(int)
        for variant, count in self._read_group(
            [("step_id", "=", step.id), ("variant", "!=", False)], ["variant"], ["__count"],
        ):
            sent[variant] = count
        variants = defaultdict(lambda: self.browse())
        waiting = self.browse()
        for activity in self:
            if sent["a"] >= step.ab_test_size and sent["b"] >= step.ab_test_size:
                waiting |= activity
                continue
            variant = "a" if sent["a"] <= sent["b"] else "b"
            sent[variant] += 1
            variants[variant] |= activity
        test_complete = sent["a"] >= step.ab_test_size and sent["b"] >= step.ab_test_size
        if test_complete and not step.ab_decision_date:
            # The last test e-mails go out now.
            step.ab_decision_date = now + timedelta(hours=step.ab_wait_hours)
            self.env.ref("montanes_campaigns.ir_cron_montanes_campaign_process")._trigger(step.ab_decision_date)
        if waiting:
            waiting.write({
                "schedule_date": step.ab_decision_date,
                "state_msg": self.env._("Waiting for the winner of the A/B test."),
            })
        return dict(variants)

    def _send_mailing(self, mailing, variant, now):
        """Queue the mailing for these activities' participants, in the
        current transaction, and link each activity to its trace.

        A placeholder that fails for one participant puts that activity in
        error with the rendering message, and the others are sent.

        :return: number of e-mails queued
        """
        participants = self.participant_id
        failed = {}
        try:
            with self.env.cr.savepoint():
                mailing._montanes_queue(participants.ids)
        except UserError:
            # Find the failing participants one by one, then send the others.
            for participant in participants:
                try:
                    with self.env.cr.savepoint():
                        mailing._montanes_queue(participant.ids)
                except UserError as error:
                    failed[participant.id] = str(error)
        self.env["mailing.trace"].flush_model()
        trace_by_participant = dict(self.env["mailing.trace"].sudo()._read_group(
            [("mass_mailing_id", "=", mailing.id), ("res_id", "in", participants.ids),
             ("model", "=", participants._name)],
            ["res_id"], ["id:max"],
        ))
        failed_activities = self.filtered(lambda activity: activity.participant_id.id in failed)
        for activity in failed_activities:
            activity.write({
                "state": "error", "state_msg": failed[activity.participant_id.id], "date_done": now,
            })
        done = self - failed_activities
        done._write_processed(now, variant, {
            activity.id: trace_by_participant.get(activity.participant_id.id) for activity in done
        })
        queued_count = len(done)
        done._schedule_children()
        return queued_count

    def _write_processed(self, now, variant, mailing_trace_by_activity):
        """Mark these activities done with their mailing trace, in one
        UPDATE: a step sends thousands of e-mails in a run."""
        if not self:
            return
        self.flush_recordset()
        values = [
            SQL("(%s, %s)", activity_id, trace_id)
            for activity_id, trace_id in mailing_trace_by_activity.items()
        ]
        self.env.cr.execute(SQL(
            """UPDATE montanes_campaign_trace activity
                  SET state = 'processed', date_done = %s, variant = %s, state_msg = NULL,
                      mailing_trace_id = done.trace_id::integer, write_date = %s, write_uid = %s
                 FROM (VALUES %s) AS done(id, trace_id)
                WHERE activity.id = done.id::integer""",
            now, variant, fields.Datetime.now(), self.env.uid, SQL(", ").join(values),
        ))
        self.invalidate_recordset(["state", "date_done", "variant", "state_msg", "mailing_trace_id"])

    def _execute_condition(self, now):
        """Send each participant down the branch its record matches, and
        cancel the other branch."""
        step = self.step_id
        campaign = step.campaign_id
        domain = step._get_condition_domain()
        records = self.participant_id.mapped(lambda participant: participant._get_record())
        matching = self.env[campaign.target_model].sudo().search(
            Domain.AND([[("id", "in", records.ids)], domain]),
        )
        self._mark_done(now)
        rows = []
        for activity in self:
            met = activity.participant_id._get_record() in matching
            for child in step.child_ids:
                runs = child.trigger_type == ("condition_true" if met else "condition_false")
                rows.append({
                    "participant_id": activity.participant_id.id,
                    "step_id": child.id,
                    "campaign_id": campaign.id,
                    "parent_id": activity.id,
                    "schedule_date": self._get_run_date(child, activity.participant_id, now) if runs else now,
                    "state": "scheduled" if runs else "canceled",
                    "state_msg": False if runs else self.env._("The other branch of the condition was taken."),
                })
        self._insert_activities(rows)

    def _execute_action(self, now):
        """Apply the step action to each participant's lead or contact."""
        step = self.step_id
        for activity in self:
            record = activity.participant_id._get_record().sudo()
            try:
                with self.env.cr.savepoint():
                    step._montanes_apply_action(record, activity.participant_id)
            except UserError as error:
                activity.write({"state": "error", "state_msg": str(error), "date_done": now})
                continue
            activity._mark_done(now)

    # ------------------------------------------------------------
    # OUTCOMES
    # ------------------------------------------------------------

    @api.model
    def _on_mailing_outcome(self, mailing_traces, outcome):
        """Run the branches of an outcome of campaign e-mails and cancel the
        opposite branches.

        :param mailing_traces: mailing.trace records that got the outcome
        :param outcome: 'opened', 'clicked', 'replied' or 'bounced'
        """
        campaign_traces = mailing_traces.filtered(
            lambda trace: trace.model == "montanes.campaign.participant",
        )
        if not campaign_traces:
            return
        self.flush_model()
        # Lock the e-mail activities: a 'not' branch that is being decided
        # waits for this transaction, or this one waits for the decision.
        self.env.cr.execute(SQL(
            """SELECT id FROM montanes_campaign_trace
                WHERE mailing_trace_id = ANY(%s) AND state = 'processed'
             ORDER BY id FOR UPDATE""",
            campaign_traces.ids,
        ))
        activities = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        if not activities:
            return
        activities.invalidate_recordset()
        now = fields.Datetime.now()
        opposite = POSITIVE_OUTCOME_TRIGGERS[outcome]
        rows = []
        for activity in activities:
            participant = activity.participant_id
            if participant.state == "exited":
                continue
            children = activity.step_id.child_ids
            opposite_steps = children.filtered(lambda child: child.trigger_type == opposite)
            if opposite_steps:
                # The opposite branch already ran: the decision is taken.
                if self.search_count([("parent_id", "=", activity.id), ("step_id", "in", opposite_steps.ids),
                                      ("state", "=", "processed")]):
                    continue
                self.env.cr.execute(SQL(
                    """UPDATE montanes_campaign_trace SET state = 'canceled', state_msg = %s,
                              write_date = %s
                        WHERE id IN (SELECT id FROM montanes_campaign_trace
                                      WHERE parent_id = %s AND step_id = ANY(%s) AND state = 'scheduled'
                                        FOR UPDATE SKIP LOCKED)""",
                    self.env._("Cancelled because this happened within the limit: %(outcome)s.",
                               outcome=self._get_trigger_label(outcome)),
                    now, activity.id, opposite_steps.ids,
                ))
            for child in children.filtered(lambda child: child.trigger_type == outcome):
                limit = child._get_delay()
                if child.delay_value and now > activity.date_done + limit:
                    continue
                run_date = now
                if child.step_type == "email":
                    run_date = activity.campaign_id._apply_send_window(now, participant.tz)
                rows.append({
                    "participant_id": participant.id,
                    "step_id": child.id,
                    "campaign_id": activity.campaign_id.id,
                    "parent_id": activity.id,
                    "schedule_date": run_date,
                })
        self.invalidate_model(["state", "state_msg"])
        inserted = self._insert_activities(rows)
        if inserted:
            inserted.participant_id.filtered(lambda participant: participant.state == "completed").state = "running"
            self.env.ref("montanes_campaigns.ir_cron_montanes_campaign_process")._trigger()

        # Goals: replies and bounces can end the participation.
        if outcome == "replied":
            activities.participant_id.filtered(lambda p: p.campaign_id.exit_on_reply)._exit("replied")
        elif outcome == "bounced":
            activities.participant_id.filtered(lambda p: p.campaign_id.exit_on_bounce)._exit("bounced")

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _mark_done(self, now):
        self.write({"state": "processed", "date_done": now})
        self._schedule_children()

    def _cancel(self, reason):
        self.write({"state": "canceled", "state_msg": reason})

    def _cancel_email(self, reason, failure_type):
        """Cancel the e-mail of these activities: a cancelled mailing trace
        is kept for the statistics, and no mail.mail is created."""
        if not self:
            return
        mailing = self.step_id._get_or_create_mailing("a")
        traces = self.env["mailing.trace"].sudo().create([
            {
                "mass_mailing_id": mailing.id,
                "model": "montanes.campaign.participant",
                "res_id": activity.participant_id.id,
                "email": activity.participant_id.email_normalized,
                "trace_status": "cancel",
                "failure_type": failure_type,
                "message_id": f"<montanes-cancel-{secrets.token_hex(8)}@localhost>",
            }
            for activity in self
        ])
        for activity, trace in zip(self, traces):
            activity.write({"state": "canceled", "state_msg": reason, "mailing_trace_id": trace.id})

    @api.model
    def _get_trigger_label(self, trigger):
        Step = self.env["montanes.campaign.step"]
        return dict(Step._fields["trigger_type"]._description_selection(self.env))[trigger]

    @api.model
    def _is_test_cursor(self):
        """Return True on the cursor of a running test, which may not commit."""
        current_test = modules.module.current_test
        return bool(current_test) and self.env.cr is getattr(current_test, "cr", None)
