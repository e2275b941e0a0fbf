def post_init_hook(env):
    # Scoring starts at installation, so the held-meeting cron skips the meetings of the CRM
    # that have already ended.
    env['calendar.event']._montanes_skip_ended_meetings()
