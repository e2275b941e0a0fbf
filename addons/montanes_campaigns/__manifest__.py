{
    "name": "Montañés Campaigns",
    "summary": "Automated e-mail flows with branches, send windows, goals and metrics",
    "version": "19.0.2.0.0",
    "category": "Marketing/Email Marketing",
    "author": "MontañésSoluciones",
    "website": "https://montanessoluciones.example",
    "license": "LGPL-3",
    "depends": [
        "mass_mailing_crm",
        "montanes_lead_scoring",
    ],
    "data": [
        "security/montanes_campaigns_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/montanes_campaign_flow_data.xml",
        "views/montanes_campaign_views.xml",
        "views/montanes_campaign_step_views.xml",
        "views/montanes_campaign_participant_views.xml",
        "views/montanes_campaign_trace_views.xml",
        "views/montanes_campaign_step_preview_views.xml",
        "report/montanes_campaign_report_views.xml",
        "views/montanes_campaigns_menus.xml",
    ],
    "demo": [
        "demo/montanes_campaign_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "montanes_campaigns/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "application": False,
}
